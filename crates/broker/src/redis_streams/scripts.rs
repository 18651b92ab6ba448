//! The Lua scripts that make multi-step changes atomic on the server.
//! Times come from the server's clock (`TIME`), never a client's, so
//! publishers and consumers with skewed clocks agree on when a retry is due.
//!
//! The settling scripts are fenced: they act only if the caller's consumer
//! still owns the message in the group's pending list. A consumer whose
//! claim expired (and was taken over with XAUTOCLAIM) cannot schedule,
//! bury or extend a message that another consumer now runs.

use std::sync::LazyLock;

use redis::Script;

/// Defines `now` (server time, ms) and `group_last(key, group)`: the group's
/// last-delivered id, '0-0' when the group (or the stream) does not exist.
macro_rules! prelude {
    () => {
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function group_info(key, group)
  if redis.call('EXISTS', key) == 0 then return nil end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local info = {}
    for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
    if info['name'] == group then return info end
  end
  return nil
end
"#
    };
}

/// KEYS: delayed, stream. ARGV: limit. Moves due retries onto the stream.
pub static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, body in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'body', body)
  redis.call('ZREM', KEYS[1], body)
end
return #due
"#
    ))
});

/// KEYS: stream. ARGV: group, consumer, min idle ms, cursor, count.
/// Takes over messages idle longer than the visibility timeout. Returns
/// {next cursor, {{id, body, has body (0/1), delivery count}...}}.
pub static RECLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out = {}
for _, e in ipairs(r[2]) do
  if e and e[2] then
    local body = false
    for i = 1, #e[2], 2 do
      if e[2][i] == 'body' then body = e[2][i + 1] end
    end
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    local count = 1
    if p[1] then count = p[1][4] end
    if body then
      out[#out + 1] = {e[1], body, 1, count}
    else
      out[#out + 1] = {e[1], '', 0, count}
    end
  end
end
return {r[1], out}
"#,
    )
});

/// KEYS: stream, delayed, dead. ARGV: group, id, consumer, mode ('retry' or
/// 'dead'), payload, delay ms, reason. Returns 1, or 0 if the claim was lost.
pub static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if (not p[1]) or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[4] == 'retry' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5])
else
  redis.call('XADD', KEYS[3], '*', 'body', ARGV[5], 'reason', ARGV[7], 'died_at_ms', tostring(now))
end
return 1
"#
    ))
});

/// KEYS: stream. ARGV: group, id, consumer. Resets the idle time of a
/// message the consumer still owns (XCLAIM JUSTID does not count a
/// delivery). Returns 1, or 0 if the claim was lost.
pub static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if (not p[1]) or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"#,
    )
});

/// KEYS: stream, delayed, dead. ARGV: group, consumer-alive ms.
/// Returns {stream length, pending, delayed, dead, live consumers,
/// id of the oldest undelivered entry or '', server time ms}.
pub static STATS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
local len = redis.call('XLEN', KEYS[1])
local pending, consumers, oldest = 0, 0, ''
local info = group_info(KEYS[1], ARGV[1])
local last = '0-0'
if info then
  pending = info['pending']
  last = info['last-delivered-id']
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
    for i = 1, #c, 2 do
      if c[i] == 'idle' and c[i + 1] < tonumber(ARGV[2]) then consumers = consumers + 1 end
    end
  end
end
if len > 0 then
  local first = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
  if first[1] then oldest = first[1][1] end
end
return {len, pending, redis.call('ZCARD', KEYS[2]), redis.call('XLEN', KEYS[3]), consumers, oldest, now}
"#
    ))
});

/// KEYS: stream, delayed, dead. ARGV: group. Deletes the undelivered
/// entries, the delayed retries and the dead letters; returns how many.
pub static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        prelude!(),
        r#"
local removed = redis.call('ZCARD', KEYS[2]) + redis.call('XLEN', KEYS[3])
redis.call('DEL', KEYS[2], KEYS[3])
local info = group_info(KEYS[1], ARGV[1])
local last = '0-0'
if info then last = info['last-delivered-id'] end
while redis.call('EXISTS', KEYS[1]) == 1 do
  local batch = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    redis.call('XDEL', KEYS[1], e[1])
    last = e[1]
  end
  removed = removed + #batch
end
return removed
"#
    ))
});

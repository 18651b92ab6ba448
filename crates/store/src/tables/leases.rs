//! The leases table: named leader leases with fencing tokens. Every change
//! is one conditional statement, so two contenders can never both win: the
//! database decides, on the row as the last committed write left it.

use chrono::{DateTime, Utc};
use sqlx::Pool;

use crate::error::{Result, StoreError};
use crate::model::Lease;
use crate::sql::{self, Dialect, Fields, Statement, StoredRow};

/// Insert the lease, or take it over when it is ours or has expired. Taking
/// it over as a new term (another owner, or ours after it expired) bumps the
/// token; renewing our unexpired lease keeps it. All right-hand sides read
/// the row as it was, in both dialects.
const ACQUIRE: &str = "INSERT INTO leases (name, owner, token, expires_at) \
     VALUES ($1, $2, 1, $3) \
     ON CONFLICT (name) DO UPDATE SET \
         token = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > $4 \
             THEN leases.token ELSE leases.token + 1 END, \
         owner = excluded.owner, \
         expires_at = excluded.expires_at \
     WHERE leases.owner = excluded.owner OR leases.expires_at <= $4 \
     RETURNING name, owner, token, expires_at";

const RENEW: &str = "UPDATE leases SET expires_at = $4 \
     WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $5 \
     RETURNING name, owner, token, expires_at";

/// Expires the lease rather than deleting it, so the next holder's token
/// still grows past this one.
const RELEASE: &str = "UPDATE leases SET expires_at = $4 \
     WHERE name = $1 AND owner = $2 AND token = $3";

const SELECT_LEASE: &str = "SELECT name, owner, token, expires_at FROM leases WHERE name = $1";

pub(crate) async fn try_acquire<DB: Dialect>(
    pool: &Pool<DB>,
    name: &str,
    owner: &str,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Option<Lease>> {
    named(name, owner)?;
    let statement = Statement::new(ACQUIRE)
        .arg(name)
        .arg(owner)
        .arg(expiry(now, ttl)?)
        .arg(now);
    let mut tx = sql::begin_write(pool).await?;
    let rows = DB::fetch(&mut tx, statement).await?;
    tx.commit().await?;
    rows.first().map(lease).transpose()
}

pub(crate) async fn renew<DB: Dialect>(
    pool: &Pool<DB>,
    held: &Lease,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Option<Lease>> {
    let statement = Statement::new(RENEW)
        .arg(held.name.as_str())
        .arg(held.owner.as_str())
        .arg(held.token)
        .arg(expiry(now, ttl)?)
        .arg(now);
    let mut tx = sql::begin_write(pool).await?;
    let rows = DB::fetch(&mut tx, statement).await?;
    tx.commit().await?;
    rows.first().map(lease).transpose()
}

/// A lease no longer ours is left alone: releasing is then a no-op.
pub(crate) async fn release<DB: Dialect>(pool: &Pool<DB>, held: &Lease) -> Result<()> {
    let statement = Statement::new(RELEASE)
        .arg(held.name.as_str())
        .arg(held.owner.as_str())
        .arg(held.token)
        .arg(DateTime::<Utc>::UNIX_EPOCH);
    let mut tx = sql::begin_write(pool).await?;
    DB::execute(&mut tx, statement).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn current<DB: Dialect>(pool: &Pool<DB>, name: &str) -> Result<Option<Lease>> {
    let rows = sql::fetch(pool, Statement::new(SELECT_LEASE).arg(name)).await?;
    rows.first().map(lease).transpose()
}

/// For a transaction fenced by `held`: `LeaseLost` unless it is still the
/// current term of its lease at `now`. Locks the lease row where the backend
/// needs it (see `Dialect::SELECT_CURRENT_LEASE`).
pub(crate) async fn check_current<DB: Dialect>(
    conn: &mut DB::Connection,
    held: &Lease,
    now: DateTime<Utc>,
) -> Result<()> {
    let statement = Statement::new(DB::SELECT_CURRENT_LEASE)
        .arg(held.name.as_str())
        .arg(held.owner.as_str())
        .arg(held.token)
        .arg(now);
    if DB::fetch(conn, statement).await?.is_empty() {
        return Err(StoreError::LeaseLost(format!(
            "{} (owner {}, token {}) has expired or has another holder",
            held.name, held.owner, held.token
        )));
    }
    Ok(())
}

fn named(name: &str, owner: &str) -> Result<()> {
    if name.trim().is_empty() || owner.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "a lease needs a name and an owner (got name {name:?}, owner {owner:?})"
        )));
    }
    Ok(())
}

/// `now + ttl`; a zero ttl would be a lease expired as it is taken.
fn expiry(now: DateTime<Utc>, ttl: std::time::Duration) -> Result<DateTime<Utc>> {
    let refused = || StoreError::Invalid(format!("lease ttl {ttl:?} is not a usable duration"));
    if ttl.is_zero() {
        return Err(refused());
    }
    let ttl = chrono::Duration::from_std(ttl).map_err(|_| refused())?;
    now.checked_add_signed(ttl).ok_or_else(refused)
}

fn lease<R: StoredRow>(row: &R) -> Result<Lease> {
    let (f, name) = Fields::keyed_by_text(row, "lease", "name")?;
    Ok(Lease {
        name,
        owner: f.text("owner")?,
        token: f.int("token")?,
        expires_at: f.time("expires_at")?,
    })
}

#!/usr/bin/env python3
"""The checks of deploy/ that no packaged tool does, run by
scripts/check-deploy.sh (which runs promtool and systemd-analyze itself):

- every YAML file parses, and the Grafana dashboard has its six panels;
- every dq_* metric, its labels and their values, named anywhere under
  deploy/, are ones dq exports (crates/metrics/src/families.rs and the enums
  that give the label values), and every dq:* series is a recording rule;
- the KPI recording rules are dq_metrics::KPIS verbatim;
- every alert has a severity, summary, description and its runbook_url, and
  unit tests that make it fire and keep it quiet;
- the dashboard's queries compile (promtool) and use the datasource variable;
- the systemd units, the Kubernetes manifests, KEDA and Prometheus agree on
  queues, pools, ports and names.

Prints one line per problem and exits 1 if there is any. Needs PyYAML.
"""

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
FAMILIES_RS = ROOT / "crates/metrics/src/families.rs"
RULES = DEPLOY / "prometheus/rules/dq.rules.yml"
RULE_TESTS = sorted((DEPLOY / "prometheus/tests").glob("*.test.yml"))
PROMETHEUS_YML = DEPLOY / "prometheus/prometheus.yml"
DASHBOARD = DEPLOY / "grafana/dq-dashboard.json"
K8S = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
RUNBOOK = ROOT / "docs/runbook.md"
RUNBOOK_URL = "https://github.com/dq/dq/blob/main/docs/runbook.md"

DASHBOARD_PANELS = [
    "Check success rate",
    "Violations by severity",
    "Top failing rules",
    "Check duration",
    "Alert response time",
    "Queue length",
]
ALERT_SEVERITIES = {"critical", "warning", "info"}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}
# `dq worker --shutdown-deadline` default (crates/cli/src/cli.rs).
WORKER_SHUTDOWN_DEADLINE_S = 30

problems = []
warnings = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def rel(path):
    return str(Path(path).relative_to(ROOT))


# ------------------------------------------------------------ what dq exports


def read_families():
    """{exposed family name: (type, {labels})} from the doc table."""
    families = {}
    row = re.compile(r"^//! \| `(dq_[a-z_]+)` \| (\w+) \|([^|]*)\|")
    for line in FAMILIES_RS.read_text().splitlines():
        m = row.match(line)
        if m:
            labels = {l.strip() for l in m.group(3).split(",") if l.strip()}
            families[m.group(1)] = (m.group(2), labels)
    if not families:
        sys.exit(f"FATAL: no family table found in {rel(FAMILIES_RS)}")
    return families


def series_names(families):
    """{name a query can use: its labels}: histograms as _bucket/_sum/_count."""
    names = {}
    for name, (kind, labels) in families.items():
        if kind == "histogram":
            names[f"{name}_bucket"] = labels | {"le"}
            names[f"{name}_sum"] = labels
            names[f"{name}_count"] = labels
        else:
            names[name] = labels
    return names


def read_kpis():
    text = FAMILIES_RS.read_text()
    block = text[text.index("pub const KPIS"):]
    block = block[: block.index("];")]
    string = r'(?:r#"(.*?)"#|"((?:[^"\\]|\\.)*)")'
    tuple_re = re.compile(r"\(\s*" + string + r"\s*,\s*" + string + r"\s*,\s*" + string, re.S)
    kpis = {}
    for m in tuple_re.finditer(block):
        name = m.group(1) or m.group(2)
        expr = m.group(3) or m.group(4)
        kpis[name] = expr
    declared = re.search(r"KPIS: \[\(&str, &str, &str\); (\d+)\]", text)
    if not declared or len(kpis) != int(declared.group(1)):
        sys.exit(f"FATAL: cannot read every KPI of {rel(FAMILIES_RS)}")
    return kpis


def as_str_values(path, enum):
    values = re.findall(enum + r'::\w+ => "([^"]+)"', (ROOT / path).read_text())
    if not values:
        sys.exit(f"FATAL: no {enum} names found in {path}")
    return set(values)


QUEUES = as_str_values("crates/core/src/queue.rs", "Queue")
LABEL_VALUES = {
    "status": as_str_values("crates/core/src/verdict.rs", "RunStatus"),
    "severity": as_str_values("crates/core/src/severity.rs", "Severity"),
    "queue": QUEUES,
    "outcome": as_str_values("crates/worker/src/metrics.rs", "JobOutcome"),
}

# ------------------------------------------------------- names under deploy/

METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])(dq_[a-z_]+)(\{[^}]*\})?")
MATCHER_RE = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING_RE = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
RECORDED_RE = re.compile(r"(?<![A-Za-z0-9_:])(dq:[a-z_][a-z0-9_:]*[a-z0-9_])")


def check_label_values(where, label, op, value):
    known = LABEL_VALUES.get(label)
    if known is None or not value:
        return
    if op in ("=", "!="):
        candidates = [value]
    else:  # a regex: check the alternatives that are plain words
        candidates = [v for v in value.split("|") if re.fullmatch(r"\w+", v)]
    for v in candidates:
        if v not in known:
            problem(where, f'{label}="{v}" is not a value dq gives {label} ({", ".join(sorted(known))})')


def check_names(names, recorded):
    """Every dq_* and dq:* name and every runbook link in any file under
    deploy/, prose included."""
    anchors = runbook_anchors()
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{rel(path)}:{number}"
            for anchor in re.findall(r"runbook\.md#([\w-]+)", line):
                # Alert sections are checked (as warnings) by check_rules.
                if anchor not in anchors and not anchor.startswith("alert-"):
                    problem(where, f"docs/runbook.md has no section for #{anchor}")
            for m in METRIC_RE.finditer(line):
                if m.group(1) not in names and m.group(1) not in QUEUES:
                    problem(where, f"{m.group(1)} is not a series dq exports ({rel(FAMILIES_RS)})")
            for m in RECORDED_RE.finditer(line):
                if m.group(1) not in recorded:
                    problem(where, f"{m.group(1)} is not a recording rule of {rel(RULES)}")


def check_promql(where, expr, names):
    """The labels a query selects and groups by, and their values."""
    all_labels = set().union(*names.values()) | TARGET_LABELS
    for m in METRIC_RE.finditer(expr):
        name, selector = m.group(1), m.group(2)
        for label, op, value in MATCHER_RE.findall(selector or ""):
            if name in names and label not in names[name] | TARGET_LABELS:
                problem(where, f"{name} has no label {label}")
            check_label_values(where, label, op, value)
    for m in GROUPING_RE.finditer(expr):
        for label in filter(None, (l.strip() for l in m.group(1).split(","))):
            if label not in all_labels:
                problem(where, f"no dq series has the label {label}")


def promql_of_deploy():
    """(where, PromQL) of the rules, the rule tests' series and queries, and
    the dashboard's queries."""
    found = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            found.append((f"{rel(RULES)}: {rule.get('record') or rule.get('alert')}", rule["expr"]))
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            where = f"{rel(path)}: {test.get('name')}"
            found += [(where, s["series"]) for s in test.get("input_series", [])]
            found += [(where, c["expr"]) for c in test.get("promql_expr_test", [])]
    for panel in json.loads(DASHBOARD.read_text()).get("panels", []):
        for target in panel.get("targets", []):
            found.append((f"{rel(DASHBOARD)}: {panel.get('title')}", target.get("expr", "")))
    return found


# ------------------------------------------------------------------- rules


def normalise(expr):
    return " ".join(expr.split())


def runbook_anchors():
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def check_rules(kpis):
    doc = yaml.safe_load(RULES.read_text())
    records, alerts = {}, {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                records[rule["record"]] = rule["expr"]
            else:
                if rule["alert"] in alerts:
                    problem(rel(RULES), f"alert {rule['alert']} is defined twice")
                alerts[rule["alert"]] = rule
    where = rel(RULES)
    for name in records:
        if not name.startswith("dq:"):
            problem(where, f"recording rule {name} is not named dq:...")
    for kpi, expr in kpis.items():
        matching = [r for r in records if r.startswith(f"dq:{kpi}:")]
        if not matching:
            problem(where, f"no recording rule dq:{kpi}:<window> for the KPI {kpi}")
        for record in matching:
            if normalise(records[record]) != normalise(expr):
                problem(where, f"{record} is not the KPI's expression {expr!r} (crates/metrics/src/families.rs)")
    anchors = runbook_anchors()
    for name, rule in alerts.items():
        severity = rule.get("labels", {}).get("severity")
        if severity not in ALERT_SEVERITIES:
            problem(where, f"alert {name}: severity label {severity!r} is not one of {sorted(ALERT_SEVERITIES)}")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            if not annotations.get(key):
                problem(where, f"alert {name}: no {key} annotation")
        anchor = f"alert-{name.lower()}"
        if annotations.get("runbook_url") != f"{RUNBOOK_URL}#{anchor}":
            problem(where, f"alert {name}: runbook_url must be {RUNBOOK_URL}#{anchor}")
        if anchor not in anchors:
            problem("docs/runbook.md", f"no section for alert {name} (a heading \"Alert: {name}\", anchor #{anchor})")
    return records, alerts


def check_rule_tests(records, alerts, kpis):
    fires, quiet, tested_exprs = set(), set(), set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            # A test is a healthy scenario for an alert when none of its
            # cases expects it; a pending check inside a firing test is not.
            expected = {}
            for case in test.get("alert_rule_test", []):
                expected.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
            for alert, cases in expected.items():
                (fires if any(cases) else quiet).add(alert)
            for case in test.get("promql_expr_test", []):
                tested_exprs.add(case["expr"].strip())
    where = "deploy/prometheus/tests"
    for name in alerts:
        if name not in fires:
            problem(where, f"no test makes alert {name} fire")
        if name not in quiet:
            problem(where, f"no test shows alert {name} quiet on a healthy series")
    for record in records:
        if any(record.startswith(f"dq:{kpi}:") for kpi in kpis) and record not in tested_exprs:
            problem(where, f"the KPI recording rule {record} has no promql_expr_test")


# ----------------------------------------------------------------- Grafana


def check_dashboard():
    where = rel(DASHBOARD)
    try:
        dash = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as e:
        problem(where, f"not valid JSON: {e}")
        return
    if not isinstance(dash.get("schemaVersion"), int):
        problem(where, "no schemaVersion")
    variables = [v for v in dash.get("templating", {}).get("list", [])
                 if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if not variables:
        problem(where, "no Prometheus datasource variable")
        return
    uid = "${" + variables[0]["name"] + "}"
    panels = dash.get("panels", [])
    titles = [p.get("title") for p in panels]
    for title in DASHBOARD_PANELS:
        if title not in titles:
            problem(where, f"no panel titled {title!r}")
    exprs = []
    for panel in panels:
        for item in [panel] + panel.get("targets", []):
            if item.get("datasource", {}).get("uid") != uid:
                problem(where, f"panel {panel.get('title')!r}: datasource is not {uid}")
        if not panel.get("targets"):
            problem(where, f"panel {panel.get('title')!r} has no query")
        for target in panel.get("targets", []):
            exprs.append((panel.get("title"), target.get("refId"), target.get("expr", "")))
    compile_queries(where, exprs)


def compile_queries(where, exprs):
    """promtool parses the dashboard's queries as recording rules."""
    grafana_vars = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}
    rules = []
    for number, (_, _, expr) in enumerate(exprs):
        for var, value in grafana_vars.items():
            expr = expr.replace(var, value)
        rules.append({"record": f"dashboard:query:{number}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        f.flush()
        out = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    if out.returncode != 0:
        names = "\n".join(f"dashboard:query:{n} is panel {t!r} query {r}" for n, (t, r, _) in enumerate(exprs))
        problem(where, "promtool rejects a query:\n" + out.stdout + out.stderr + names)


# ------------------------------------------------- units, manifests, scrape


def parse_yaml_files():
    docs = {}
    for path in sorted(list(DEPLOY.rglob("*.yml")) + list(DEPLOY.rglob("*.yaml"))):
        try:
            docs[path] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            problem(rel(path), f"not valid YAML: {e}")
    return docs


def env_file(path):
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def check_systemd_and_scrape(docs):
    """Returns {queue: worker args} from the env files."""
    worker_args, addresses = {}, set()
    for path in sorted(SYSTEMD.glob("worker-*.env")):
        queue = path.stem.removeprefix("worker-")
        env = env_file(path)
        if queue not in QUEUES:
            problem(rel(path), f"{queue} is not a dq queue ({', '.join(sorted(QUEUES))})")
        for key in ("DQ_WORKER_ARGS", "DQ_METRICS_LISTEN"):
            if not env.get(key):
                problem(rel(path), f"no {key}")
        worker_args[queue] = env.get("DQ_WORKER_ARGS", "").split()
        addresses.add(env.get("DQ_METRICS_LISTEN"))
    if set(worker_args) != QUEUES:
        problem(rel(SYSTEMD), f"worker env files for {sorted(worker_args)}, queues are {sorted(QUEUES)}")
    for path in sorted(SYSTEMD.glob("*.service")):
        for m in re.finditer(r"--(?:metrics-)?listen (\S+)", path.read_text()):
            if not m.group(1).startswith("$"):
                addresses.add(m.group(1))
    scraped = set()
    for job in docs.get(PROMETHEUS_YML, [{}])[0].get("scrape_configs", []):
        for static in job.get("static_configs", []):
            scraped.update(static.get("targets", []))
    if scraped != addresses:
        problem(rel(PROMETHEUS_YML), f"scrapes {sorted(scraped)}; the units listen on {sorted(addresses)}")
    return worker_args


def quantity_mib(text):
    units = {"Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", str(text))
    return float(m.group(1)) * units[m.group(2)] if m else None


def flag(args, *names):
    for i, arg in enumerate(args[:-1]):
        if arg in names:
            return args[i + 1]
    return None


def check_worker_deployment(where, deployment, worker_args):
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = [str(a) for a in container.get("args", [])]
    queue = flag(args, "-Q", "--queue")
    if queue not in QUEUES:
        problem(where, f"worker queue {queue!r} is not a dq queue")
        return None
    pool_args = args[args.index(queue) + 1:]
    if "--metrics-listen" in pool_args:
        pool_args = pool_args[: pool_args.index("--metrics-listen")]
    if queue in worker_args and pool_args != worker_args[queue]:
        problem(where, f"{queue} runs {' '.join(pool_args)}; deploy/systemd/worker-{queue}.env says {' '.join(worker_args[queue])}")
    listen = flag(args, "--metrics-listen") or ""
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ports.get("metrics") is None or not listen.endswith(f":{ports.get('metrics')}"):
        problem(where, f"--metrics-listen {listen!r} is not the container port named metrics")
    for probe in ("livenessProbe", "readinessProbe"):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != "/metrics" or get.get("port") not in ("metrics", ports.get("metrics")):
            problem(where, f"{probe} must GET /metrics on the metrics port (workers serve nothing else)")
    if pod.get("terminationGracePeriodSeconds", 30) <= WORKER_SHUTDOWN_DEADLINE_S:
        problem(where, f"terminationGracePeriodSeconds must exceed the {WORKER_SHUTDOWN_DEADLINE_S} s shutdown deadline")
    resources = container.get("resources", {})
    if not resources.get("requests") or not resources.get("limits"):
        problem(where, "no resource requests and limits")
    if flag(args, "--pool") == "process":
        needed = int(flag(args, "--memory-limit-mb") or 0) * int(flag(args, "-c", "--concurrency") or 1)
        limit = quantity_mib(resources.get("limits", {}).get("memory"))
        if limit is None or limit <= needed:
            problem(where, f"memory limit {resources.get('limits', {}).get('memory')} is not above --memory-limit-mb x concurrency ({needed} MiB)")
    return queue


def check_kubernetes(docs, worker_args):
    objects = [(path, d) for path, ds in docs.items() if K8S in path.parents for d in ds]
    config = next((d for _, d in objects if d.get("kind") == "ConfigMap" and "dq.toml" in d.get("data", {})), None)
    if config is None:
        problem(rel(K8S), "no ConfigMap with dq.toml")
        return
    try:
        prefix = tomllib.loads(config["data"]["dq.toml"]).get("broker", {}).get("prefix", "")
    except tomllib.TOMLDecodeError as e:
        problem(rel(K8S), f"dq.toml in the ConfigMap is not valid TOML: {e}")
        return
    worker_queues = {}
    for path, d in objects:
        if d.get("kind") != "Deployment":
            continue
        args = d["spec"]["template"]["spec"]["containers"][0].get("args", [])
        where = f"{rel(path)}: Deployment {d['metadata']['name']}"
        if args[:1] == ["worker"]:
            queue = check_worker_deployment(where, d, worker_args)
            if queue:
                worker_queues[d["metadata"]["name"]] = queue
        elif args[:1] == ["beat"] and d["spec"].get("replicas", 1) < 2:
            problem(where, "run two or more beats (they elect a leader)")
    if sorted(worker_queues.values()) != sorted(QUEUES):
        problem(rel(K8S), f"worker Deployments serve {sorted(worker_queues.values())}, one per queue expected")
    for keda, trigger_type, key in (("keda-rabbitmq.yaml", "rabbitmq", "queueName"),
                                    ("keda-redis.yaml", "redis-streams", "stream")):
        path = K8S / keda
        scaled = {}
        for d in docs.get(path, []):
            if d.get("kind") != "ScaledObject":
                continue
            target = d["spec"]["scaleTargetRef"]["name"]
            scaled[target] = d
            where = f"{rel(path)}: ScaledObject {d['metadata']['name']}"
            if target not in worker_queues:
                problem(where, f"scales {target}, which is not a worker Deployment")
                continue
            for trigger in d["spec"]["triggers"]:
                expected = prefix + worker_queues[target]
                if trigger.get("type") != trigger_type:
                    problem(where, f"trigger type {trigger.get('type')!r}, expected {trigger_type}")
                elif trigger["metadata"].get(key) != expected:
                    problem(where, f"{key} {trigger['metadata'].get(key)!r}; dq names that queue {expected!r}")
            if d["spec"].get("minReplicaCount", 0) < 1:
                problem(where, "minReplicaCount must be 1 or more (workers run the alert dispatcher)")
        for name in worker_queues:
            if name not in scaled:
                problem(rel(path), f"no ScaledObject for {name}")


def report_and_exit_on_problems():
    for w in warnings:
        print(f"WARN: {w}")
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        sys.exit(1)


def main():
    names = series_names(read_families())
    kpis = read_kpis()
    docs = parse_yaml_files()
    check_dashboard()
    if problems:  # the checks below read these files
        report_and_exit_on_problems()
    records, alerts = check_rules(kpis)
    check_names(names, set(records))
    for where, expr in promql_of_deploy():
        check_promql(where, expr, names)
    check_rule_tests(records, alerts, kpis)
    worker_args = check_systemd_and_scrape(docs)
    check_kubernetes(docs, worker_args)
    report_and_exit_on_problems()
    print(f"deploy/: {len(docs)} YAML files, {len(alerts)} alerts, {len(records)} recording rules, "
          f"{len(DASHBOARD_PANELS)} dashboard panels checked")


if __name__ == "__main__":
    main()

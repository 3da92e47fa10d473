#!/usr/bin/env python3
"""Static checks of the deployment files, for CI machines without a Docker daemon or the
`docker compose` plugin (PyYAML 6 and Python >= 3.11 only).

    python3 .ci/compose-check.py              # check; exit 1 naming every problem
    python3 .ci/compose-check.py --self-test  # break copies in memory; each must be caught

What is checked (each line is one function below):
  * docker-compose.yml: the required services exist; every depends_on names a defined
    service, one with a healthcheck when the condition is service_healthy, and no core
    service depends on a profiled one; every named volume is declared; every bind-mounted
    path exists; the scalable worker has no container_name and no host port; every service
    has a healthcheck; the monitoring services are behind the `monitoring` profile and the
    core ones behind none; the api and worker get their required environment; build targets
    are Dockerfile stages; a built service's command is a binary the image has.
  * Dockerfile: every COPY --from names an earlier stage; the binaries copied out of the
    build are workspace binaries built by a `cargo build -p` there; every workspace member's
    Cargo.toml is copied for the dependency layer, whose stub sources cover every member.
  * deploy/prometheus/prometheus.yml parses; its targets (static and DNS) are compose
    services, the api and worker are scraped, on the ports their BIND /
    WORKER_METRICS_BIND listen on.
  * Grafana provisioning: the datasource URL names a compose service; the dashboards provider
    reads a directory mounted into the grafana service; provisioning files are mounted.
  * deploy/grafana/dashboards/*.json parse; panel ids are unique; every datasource uid is a
    provisioned one; every metric in every PromQL expression (less _bucket/_sum/_count) is
    a family of deploy/metrics.txt (or `up`, which Prometheus adds itself).
  * Documentation: every variable the api and worker are given is in docs/CONFIGURATION.md's
    configuration table and in .env.example; every ${VAR} the compose file interpolates is
    in .env.example.
When `docker compose version` works, `docker compose config -q` runs too (with and without
the monitoring profile).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("compose-check: PyYAML is missing: python3 -m pip install 'pyyaml>=6'")

ROOT = Path(__file__).resolve().parent.parent

REQUIRED_SERVICES = ["postgres", "redis", "api", "worker"]
MONITORING_PROFILE = "monitoring"
MONITORING_SERVICES = ["prometheus", "grafana"]
SCALABLE_SERVICES = ["worker"]
REQUIRED_ENV = {
    "api": ["DATABASE_URL", "REDIS_URL", "OPERATOR_TOKEN", "BIND", "RUST_LOG", "LOG_FORMAT"],
    "worker": ["DATABASE_URL", "REDIS_URL", "WORKER_METRICS_BIND", "RUST_LOG", "LOG_FORMAT"],
}
# The processes Prometheus must scrape, and the variable holding each one's listen address.
SCRAPED = {"api": "BIND", "worker": "WORKER_METRICS_BIND"}
# Series Prometheus adds to every target itself (not exported by mediawarm).
PROMETHEUS_SYNTHETIC = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

PROMETHEUS_CONFIG = "deploy/prometheus/prometheus.yml"
GRAFANA_DATASOURCES = "deploy/grafana/provisioning/datasources"
GRAFANA_PROVIDERS = "deploy/grafana/provisioning/dashboards"
GRAFANA_DASHBOARDS = "deploy/grafana/dashboards"
METRICS_LIST = "deploy/metrics.txt"


@dataclass
class Project:
    """Everything the checks read, parsed once; the self-test mutates deep copies."""

    root: Path
    compose: dict = field(default_factory=dict)
    dockerfile: str = ""
    prometheus: dict = field(default_factory=dict)
    datasources: dict = field(default_factory=dict)  # file name -> parsed YAML
    providers: dict = field(default_factory=dict)  # file name -> parsed YAML
    dashboards: dict = field(default_factory=dict)  # file name -> parsed JSON
    families: set = field(default_factory=set)
    members: list = field(default_factory=list)  # workspace member directories
    bins: dict = field(default_factory=dict)  # binary name -> package name
    readme: str = ""
    env_example: str = ""
    load_errors: list = field(default_factory=list)


# ---------------------------------------------------------------- loading


def load(root: Path) -> Project:
    p = Project(root=root)

    def read(rel: str) -> str:
        try:
            return (root / rel).read_text()
        except OSError as e:
            p.load_errors.append(f"{rel}: cannot read: {e}")
            return ""

    def parse_yaml(rel: str, text: str):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            p.load_errors.append(f"{rel}: not valid YAML: {e}")
            return {}
        if not isinstance(data, dict):
            p.load_errors.append(f"{rel}: expected a mapping at the top")
            return {}
        return data

    p.compose = parse_yaml("docker-compose.yml", read("docker-compose.yml"))
    p.dockerfile = read("Dockerfile")
    p.prometheus = parse_yaml(PROMETHEUS_CONFIG, read(PROMETHEUS_CONFIG))
    for directory, target in ((GRAFANA_DATASOURCES, p.datasources), (GRAFANA_PROVIDERS, p.providers)):
        files = sorted((root / directory).glob("*.y*ml"))
        if not files:
            p.load_errors.append(f"{directory}: no provisioning file")
        for f in files:
            rel = str(f.relative_to(root))
            target[rel] = parse_yaml(rel, f.read_text())
    files = sorted((root / GRAFANA_DASHBOARDS).glob("*.json"))
    if not files:
        p.load_errors.append(f"{GRAFANA_DASHBOARDS}: no dashboard")
    for f in files:
        rel = str(f.relative_to(root))
        try:
            p.dashboards[rel] = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            p.load_errors.append(f"{rel}: not valid JSON: {e}")
    for line in read(METRICS_LIST).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p.families.add(line)
    if not p.families:
        p.load_errors.append(f"{METRICS_LIST}: lists no metric family")
    try:
        workspace = tomllib.loads(read("Cargo.toml"))
        p.members = list(workspace["workspace"]["members"])
    except (tomllib.TOMLDecodeError, KeyError) as e:
        p.load_errors.append(f"Cargo.toml: no workspace members: {e}")
    for member in p.members:
        try:
            manifest = tomllib.loads((root / member / "Cargo.toml").read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            p.load_errors.append(f"{member}/Cargo.toml: {e}")
            continue
        package = manifest["package"]["name"]
        explicit = [b["name"] for b in manifest.get("bin", [])]
        for name in explicit:
            p.bins[name] = package
        if not explicit and (root / member / "src/main.rs").exists():
            p.bins[package] = package
    p.readme = read("docs/CONFIGURATION.md")
    p.env_example = read(".env.example")
    return p


# ---------------------------------------------------------------- helpers


def services(p: Project) -> dict:
    s = p.compose.get("services")
    return s if isinstance(s, dict) else {}


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): v for k, v in env.items()}


def depends_on(service: dict) -> dict:
    """depends_on as {name: condition}, for the list and the mapping forms."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def has_healthcheck(service: dict) -> bool:
    hc = service.get("healthcheck")
    if not isinstance(hc, dict) or hc.get("disable"):
        return False
    test = hc.get("test")
    if isinstance(test, str):
        return bool(test.strip())
    return isinstance(test, list) and len(test) > 1 and test[0] != "NONE"


def mounts(service: dict) -> list:
    """(type, source, target) of each volume entry: type bind, volume or anonymous."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            kind = v.get("type", "volume")
            source, target = v.get("source"), v.get("target")
        else:
            parts = v.split(":")
            if len(parts) == 1:
                out.append(("anonymous", None, parts[0]))
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def host_ports(service: dict) -> list:
    """The port entries that publish on the host."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") not in (None, ""):
                out.append(port)
        else:
            plain = re.sub(r"\$\{[^}]*\}", "VAR", str(port)).split("/")[0]
            if ":" in plain:
                out.append(port)
    return out


def listen_port(address) -> int | None:
    m = re.search(r":(\d+)$", str(address or ""))
    return int(m.group(1)) if m else None


def dockerfile_instructions(text: str) -> list:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current:
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
        current = ""
    return out


def dockerfile_stages(p: Project) -> list:
    """[(stage name or None, [(INSTRUCTION, args), ...]), ...] in order."""
    stages = []
    for instr, args in dockerfile_instructions(p.dockerfile):
        if instr == "FROM":
            m = re.search(r"\s+as\s+(\S+)\s*$", args, re.IGNORECASE)
            stages.append((m.group(1).lower() if m else None, []))
        elif stages:
            stages[-1][1].append((instr, args))
    return stages


PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "atan2",
}


def promql_metrics(expr: str) -> set:
    """The metric names an expression selects (identifiers that are neither functions,
    keywords, label names nor Grafana variables)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # strings
    e = re.sub(r"\$\{[^}]*\}|\$\w+", " ", e)  # Grafana variables
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges and subqueries
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_WORDS:
            continue
        names.add(name)
    return names


def family_of(name: str, families: set) -> str | None:
    if name in families:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        # Counters (…_total) have no _bucket/_sum/_count series.
        if name.endswith(suffix) and base in families and not base.endswith("_total"):
            return base
    return None


def dashboard_panels(panels: list):
    for panel in panels or []:
        yield panel
        yield from dashboard_panels(panel.get("panels"))


def dashboard_queries(dashboard: dict):
    """(where, expr) of every PromQL expression: panel targets and template variables."""
    for panel in dashboard_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield f"panel {panel.get('id')} '{panel.get('title')}'", target["expr"]
    for var in (dashboard.get("templating") or {}).get("list") or []:
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if var.get("type") == "query" and isinstance(query, str) and query:
            m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", query)
            yield f"variable {var.get('name')}", m.group(1) if m else query


# ---------------------------------------------------------------- checks


def check_services(p: Project, err) -> None:
    svc = services(p)
    for name in REQUIRED_SERVICES + MONITORING_SERVICES:
        if name not in svc:
            err(f"compose: service `{name}` is missing")
    for name, s in svc.items():
        if not has_healthcheck(s):
            err(f"compose: service `{name}` has no healthcheck")


def check_depends_on(p: Project, err) -> None:
    svc = services(p)
    for name, s in svc.items():
        for dep, condition in depends_on(s).items():
            if dep not in svc:
                err(f"compose: `{name}` depends_on `{dep}`, which is not a service")
                continue
            if condition == "service_healthy" and not has_healthcheck(svc[dep]):
                err(f"compose: `{name}` waits for `{dep}` to be service_healthy, but `{dep}` has no healthcheck")
            if not s.get("profiles") and svc[dep].get("profiles"):
                err(f"compose: `{name}` (no profile) depends_on `{dep}`, which only runs with profiles {svc[dep]['profiles']}")


def check_volumes(p: Project, err) -> None:
    declared = p.compose.get("volumes") or {}
    for name, s in services(p).items():
        for kind, source, target in mounts(s):
            if kind == "volume" and source not in declared:
                err(f"compose: `{name}` mounts named volume `{source}`, not declared under top-level volumes")
            if kind == "bind":
                path = (p.root / Path(source).expanduser()).resolve()
                if not path.exists():
                    err(f"compose: `{name}` bind-mounts {source}, which does not exist")


def check_scalable(p: Project, err) -> None:
    svc = services(p)
    for name in SCALABLE_SERVICES:
        s = svc.get(name, {})
        if "container_name" in s:
            err(f"compose: `{name}` has a container_name, so `--scale {name}=3` fails")
        if host_ports(s):
            err(f"compose: `{name}` publishes host ports {host_ports(s)}, so replicas would clash (use expose)")


def check_profiles(p: Project, err) -> None:
    svc = services(p)
    for name in MONITORING_SERVICES:
        if name in svc and MONITORING_PROFILE not in (svc[name].get("profiles") or []):
            err(f"compose: `{name}` is not behind the `{MONITORING_PROFILE}` profile")
    for name in REQUIRED_SERVICES:
        if name in svc and svc[name].get("profiles"):
            err(f"compose: core service `{name}` is behind profiles {svc[name]['profiles']}")


def check_environment(p: Project, err) -> None:
    svc = services(p)
    for name, keys in REQUIRED_ENV.items():
        env = environment(svc.get(name, {}))
        for key in keys:
            if key not in env:
                err(f"compose: `{name}` is not given {key}")


def check_dockerfile(p: Project, err) -> None:
    stages = dockerfile_stages(p)
    if not stages:
        err("Dockerfile: no FROM")
        return
    names = [n for n, _ in stages]
    build_packages: dict = {}  # stage -> packages its `cargo build` commands build
    copied_bins = set()
    for index, (stage, instructions) in enumerate(stages):
        for instr, args in instructions:
            if instr == "RUN" and "cargo build" in args:
                for m in re.finditer(r"(?:-p|--package)[ =](\S+)", args):
                    build_packages.setdefault(stage, set()).add(m.group(1))
                for m in re.finditer(r"--bin[ =](\S+)", args):
                    build_packages.setdefault(stage, set()).add(p.bins.get(m.group(1), m.group(1)))
            if instr != "COPY":
                continue
            m = re.search(r"--from=(\S+)", args)
            if not m:
                continue
            source = m.group(1).lower()
            earlier = names[:index]
            if source.isdigit():
                if int(source) >= index:
                    err(f"Dockerfile: COPY --from={source} in stage {stage or index} is not an earlier stage")
                continue
            if source not in earlier:
                err(f"Dockerfile: COPY --from={source} in stage {stage or index}: no earlier stage is named {source}")
                continue
            paths = [a for a in args.split() if not a.startswith("--")]
            for src in paths[:-1]:
                binary = Path(src).name
                if binary not in p.bins:
                    err(f"Dockerfile: COPY --from={source} copies {src}, which is not a workspace binary ({sorted(p.bins)})")
                    continue
                copied_bins.add(binary)
                if p.bins[binary] not in build_packages.get(source, set()):
                    err(f"Dockerfile: stage {source} has no `cargo build -p {p.bins[binary]}`, which builds {binary}")
    if not copied_bins:
        err("Dockerfile: no stage copies a workspace binary out of the build")
    # The dependency layer: every member's manifest copied, and stubbed before the first build.
    all_instructions = [i for _, instrs in stages for i in instrs]
    first_build = next((n for n, (instr, a) in enumerate(all_instructions) if instr == "RUN" and "cargo build" in a), None)
    if first_build is None:
        err("Dockerfile: no `cargo build`")
    else:
        before = [a for instr, a in all_instructions[:first_build] if instr == "COPY"]
        stub_run = all_instructions[first_build][1]
        for member in p.members:
            if not any(re.search(rf"(^|\s){re.escape(member)}/Cargo\.toml(\s|$)", a) for a in before):
                err(f"Dockerfile: the dependency layer does not COPY {member}/Cargo.toml (a workspace member)")
            if not re.search(rf"\b{re.escape(member)}\b", stub_run):
                err(f"Dockerfile: the dependency layer's RUN makes no stub sources for {member}")
    # docker-compose.yml build targets are stages; commands run binaries the image has.
    for name, s in services(p).items():
        build = s.get("build")
        if not build:
            continue
        target = build.get("target") if isinstance(build, dict) else None
        if target is not None and target.lower() not in names:
            err(f"compose: `{name}` builds Dockerfile target `{target}`, which is not a stage")
        command = s.get("command")
        if isinstance(command, str):
            command = command.split()
        if command and command[0] not in copied_bins:
            err(f"compose: `{name}` runs `{command[0]}`, which the image does not have ({sorted(copied_bins)})")


def check_prometheus(p: Project, err) -> None:
    svc = services(p)
    scraped: dict = {}  # service -> ports
    configs = p.prometheus.get("scrape_configs") or []
    if not configs:
        err(f"{PROMETHEUS_CONFIG}: no scrape_configs")
    for job in configs:
        job_name = job.get("job_name", "?")
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                if host not in svc:
                    err(f"{PROMETHEUS_CONFIG}: job {job_name} scrapes {target}, but `{host}` is not a compose service")
                scraped.setdefault(host, set()).add(int(port) if port.isdigit() else None)
        for sd in job.get("dns_sd_configs") or []:
            if sd.get("type", "SRV") != "A" or "port" not in sd:
                err(f"{PROMETHEUS_CONFIG}: job {job_name}: compose DNS has no SRV records; use type: A with a port")
            for name in sd.get("names") or []:
                if name not in svc:
                    err(f"{PROMETHEUS_CONFIG}: job {job_name} resolves `{name}`, which is not a compose service (tasks.* is swarm only)")
                scraped.setdefault(name, set()).add(sd.get("port"))
    for name, variable in SCRAPED.items():
        if name not in scraped:
            err(f"{PROMETHEUS_CONFIG}: `{name}` is not scraped")
            continue
        port = listen_port(environment(svc.get(name, {})).get(variable))
        if port not in scraped[name]:
            err(f"{PROMETHEUS_CONFIG}: `{name}` is scraped on {sorted(map(str, scraped[name]))}, but its {variable} listens on {port}")


def check_grafana(p: Project, err) -> None:
    svc = services(p)
    grafana = svc.get("grafana", {})
    targets = {target: (kind, source) for kind, source, target in mounts(grafana)}
    uids = set()
    for rel, data in p.datasources.items():
        for ds in data.get("datasources") or []:
            uids.add(ds.get("uid"))
            host = re.sub(r"^\w+://", "", str(ds.get("url", ""))).split("/")[0].split(":")[0]
            if host not in svc:
                err(f"{rel}: datasource {ds.get('name')} points at `{host}`, not a compose service")
    for rel, data in p.providers.items():
        for provider in data.get("providers") or []:
            path = (provider.get("options") or {}).get("path")
            kind, source = targets.get(path, (None, None))
            if kind != "bind" or (p.root / source).resolve() != (p.root / GRAFANA_DASHBOARDS).resolve():
                err(f"{rel}: provider {provider.get('name')} reads {path}, where grafana does not mount ./{GRAFANA_DASHBOARDS}")
    for rel in list(p.datasources) + list(p.providers):
        if not any(kind == "bind" and (p.root / source).resolve() in ((p.root / rel).resolve(), (p.root / rel).resolve().parent)
                   and target.startswith("/etc/grafana/provisioning/") for target, (kind, source) in targets.items()):
            err(f"compose: grafana does not mount {rel} under /etc/grafana/provisioning")
    for rel, dashboard in p.dashboards.items():
        ids = [panel.get("id") for panel in dashboard_panels(dashboard.get("panels"))]
        duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
        if duplicates:
            err(f"{rel}: duplicate panel ids {duplicates}")
        for panel in dashboard_panels(dashboard.get("panels")):
            for ds in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets") or []]:
                uid = ds.get("uid") if isinstance(ds, dict) else None
                if uid and not uid.startswith("$") and uid not in uids:
                    err(f"{rel}: panel {panel.get('id')} '{panel.get('title')}' uses datasource uid {uid}, not provisioned ({sorted(map(str, uids))})")
        used = set()
        for where, expr in dashboard_queries(dashboard):
            for metric in promql_metrics(expr):
                if metric in PROMETHEUS_SYNTHETIC:
                    continue
                family = family_of(metric, p.families)
                if family is None:
                    err(f"{rel}: {where} queries `{metric}`, which is not a family of {METRICS_LIST}")
                else:
                    used.add(family)
        unused = sorted(p.families - used)
        if unused:
            print(f"compose-check: note: {rel} shows no panel for {', '.join(unused)}", file=sys.stderr)


def check_docs(p: Project, err) -> None:
    svc = services(p)
    table = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", p.readme, re.MULTILINE))
    example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", p.env_example, re.MULTILINE))
    for name in REQUIRED_ENV:
        for key in environment(svc.get(name, {})):
            if key not in table:
                err(f"docs/CONFIGURATION.md: the configuration table has no row for {key} (given to `{name}` in docker-compose.yml)")
            if key not in example:
                err(f".env.example: no {key} (given to `{name}` in docker-compose.yml)")
    compose_text = yaml.safe_dump(p.compose)
    for var in sorted(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))):
        if var not in example:
            err(f".env.example: no {var} (interpolated by docker-compose.yml)")


CHECKS = [check_services, check_depends_on, check_volumes, check_scalable, check_profiles,
          check_environment, check_dockerfile, check_prometheus, check_grafana, check_docs]


def run_checks(p: Project) -> list:
    errors = list(p.load_errors)
    for check in CHECKS:
        try:
            check(p, errors.append)
        except Exception as e:  # a malformed file must fail the check, not crash it silently
            errors.append(f"{check.__name__}: crashed on malformed input: {type(e).__name__}: {e}")
    return errors


def docker_compose_config(root: Path) -> list:
    """`docker compose config -q` when the plugin exists; [] when it does not."""
    try:
        subprocess.run(["docker", "compose", "version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        print("compose-check: `docker compose` is not installed: skipping `docker compose config -q`")
        return []
    errors = []
    for extra in ([], ["--profile", MONITORING_PROFILE]):
        cmd = ["docker", "compose", "-f", str(root / "docker-compose.yml"), *extra, "config", "-q"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            errors.append(f"{' '.join(cmd[2:])}: {r.stderr.strip()}")
    return errors


# ---------------------------------------------------------------- self-test


def mutations():
    """(what is broken, mutate(project), a fragment the resulting error must contain)."""

    def svc(p, name):
        return p.compose["services"][name]

    def first_expr_panel(p):
        dashboard = next(iter(p.dashboards.values()))
        return next(x for x in dashboard_panels(dashboard["panels"]) if x.get("targets"))

    def set_first_expr(p, expr):
        first_expr_panel(p)["targets"][0]["expr"] = expr

    return [
        ("worker healthcheck dropped", lambda p: svc(p, "worker").pop("healthcheck"),
         "`worker` has no healthcheck"),
        ("api healthcheck disabled (worker waits for it)",
         lambda p: svc(p, "api").__setitem__("healthcheck", {"disable": True}),
         "`api` has no healthcheck"),
        ("redis service removed", lambda p: p.compose["services"].pop("redis"), "`redis` is missing"),
        ("depends_on an unknown service",
         lambda p: svc(p, "worker")["depends_on"].__setitem__("rabbitmq", {"condition": "service_started"}),
         "`rabbitmq`, which is not a service"),
        ("core service depends on a profiled one",
         lambda p: svc(p, "api")["depends_on"].__setitem__("prometheus", {"condition": "service_healthy"}),
         "only runs with profiles"),
        ("named volume not declared", lambda p: p.compose["volumes"].pop("pgdata"), "`pgdata`, not declared"),
        ("bind mount of a missing file",
         lambda p: svc(p, "prometheus")["volumes"].append("./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro"),
         "rules.yml, which does not exist"),
        ("worker given a container_name",
         lambda p: svc(p, "worker").__setitem__("container_name", "mediawarm-worker"), "has a container_name"),
        ("worker given a fixed host port",
         lambda p: svc(p, "worker").__setitem__("ports", ["9101:9101"]), "publishes host ports"),
        ("grafana outside the monitoring profile", lambda p: svc(p, "grafana").pop("profiles"),
         "`grafana` is not behind"),
        ("worker LOG_FORMAT dropped", lambda p: svc(p, "worker")["environment"].pop("LOG_FORMAT"),
         "`worker` is not given LOG_FORMAT"),
        ("COPY --from an unknown stage",
         lambda p: setattr(p, "dockerfile", p.dockerfile.replace("COPY --from=build ", "COPY --from=builder ")),
         "no earlier stage is named builder"),
        ("COPY of a binary the workspace does not have",
         lambda p: setattr(p, "dockerfile", p.dockerfile.replace("/out/mediawarm-worker /usr", "/out/mediawarm-worker /out/mediawarm-cli /usr")),
         "mediawarm-cli, which is not a workspace binary"),
        ("worker binary no longer built",
         lambda p: setattr(p, "dockerfile", p.dockerfile.replace(" -p mediawarm-worker", "")),
         "no `cargo build -p mediawarm-worker`"),
        ("a workspace member's manifest not copied",
         lambda p: setattr(p, "dockerfile", p.dockerfile.replace("COPY bench/Cargo.toml bench/\n", "")),
         "does not COPY bench/Cargo.toml"),
        ("compose build target not a stage",
         lambda p: svc(p, "worker")["build"].__setitem__("target", "consumer"), "`consumer`, which is not a stage"),
        ("prometheus scrapes a swarm-only name",
         lambda p: p.prometheus["scrape_configs"][1]["dns_sd_configs"][0].__setitem__("names", ["tasks.worker"]),
         "`tasks.worker`, which is not a compose service"),
        ("prometheus scrapes the worker on the wrong port",
         lambda p: p.prometheus["scrape_configs"][1]["dns_sd_configs"][0].__setitem__("port", 9100),
         "WORKER_METRICS_BIND listens on 9101"),
        ("prometheus static target not a service",
         lambda p: p.prometheus["scrape_configs"][0]["static_configs"][0].__setitem__("targets", ["mediawarm-api:8001"]),
         "`mediawarm-api` is not a compose service"),
        ("dashboard queries an unknown metric",
         lambda p: set_first_expr(p, "sum(rate(mediawarm_http_requests_count_total[5m]))"),
         "`mediawarm_http_requests_count_total`, which is not a family"),
        ("dashboard queries a bucket of a family that does not exist",
         lambda p: set_first_expr(p, 'histogram_quantile(0.9, sum by (le) (rate(mediawarm_scrape_pages_bucket{source="x"}[$__rate_interval])))'),
         "`mediawarm_scrape_pages_bucket`"),
        ("dashboard queries a histogram series of a counter",
         lambda p: set_first_expr(p, "sum(rate(mediawarm_scrape_errors_total_count[5m]))"),
         "`mediawarm_scrape_errors_total_count`"),
        ("dashboard uses an unprovisioned datasource",
         lambda p: first_expr_panel(p).__setitem__("datasource", {"type": "prometheus", "uid": "thanos"}),
         "datasource uid thanos"),
        ("metric family dropped from deploy/metrics.txt",
         lambda p: p.families.discard("mediawarm_job_duration_seconds"),
         "`mediawarm_job_duration_seconds_bucket`, which is not a family"),
        ("api variable missing from the README table",
         lambda p: setattr(p, "readme", re.sub(r"^\| `LOG_FORMAT` \|.*$", "", p.readme, flags=re.MULTILINE)),
         "no row for LOG_FORMAT"),
    ]


def self_test(root: Path) -> int:
    base = load(root)
    baseline = run_checks(base)
    if baseline:
        print("compose-check --self-test: the unmodified files already fail; fix them first:")
        for e in baseline:
            print(f"  {e}")
        return 1
    failed = 0
    for what, mutate, expected in mutations():
        p = copy.deepcopy(base)
        mutate(p)
        errors = run_checks(p)
        hit = next((e for e in errors if expected in e), None)
        if hit:
            print(f"self-test: caught  {what}: {hit}")
        else:
            failed += 1
            print(f"self-test: MISSED {what}: expected an error containing {expected!r}, got {errors or 'none'}")
    # The PromQL reader itself, on shapes the dashboard does not use today.
    cases = {
        'sum by (route, le) (rate(a_bucket{x="b c"}[5m])) / on(route) group_left(x) b_total': {"a_bucket", "b_total"},
        "histogram_quantile(0.99, sum without (instance) (rate(c_bucket[$__rate_interval] offset 1h)))": {"c_bucket"},
        "label_replace(d, \"dst\", \"$1\", \"src\", \"(.*)\") > bool 1e3": {"d"},
        "sum(rate(e[1m])) / ignoring(kind) sum(f) and on() vector(1)": {"e", "f"},
    }
    for expr, want in cases.items():
        got = promql_metrics(expr)
        if got != want:
            failed += 1
            print(f"self-test: MISSED promql_metrics({expr!r}) = {sorted(got)}, expected {sorted(want)}")
    total = len(mutations()) + len(cases)
    if failed:
        print(f"compose-check --self-test: FAILED: {failed} of {total} cases not caught")
        return 1
    print(f"compose-check --self-test: ok ({len(mutations())} broken copies caught, {len(cases)} PromQL cases)")
    return 0


def main() -> int:
    if "--self-test" in sys.argv[1:]:
        return self_test(ROOT)
    project = load(ROOT)
    errors = run_checks(project) + docker_compose_config(ROOT)
    if errors:
        print(f"compose-check: FAILED ({len(errors)} problems):")
        for e in errors:
            print(f"  {e}")
        return 1
    svc = services(project)
    print(f"compose-check: ok: {len(svc)} services, {len(project.bins)} workspace binaries, "
          f"{sum(1 for d in project.dashboards.values() for _ in dashboard_queries(d))} dashboard queries "
          f"over {len(project.families)} metric families")
    return 0


if __name__ == "__main__":
    sys.exit(main())

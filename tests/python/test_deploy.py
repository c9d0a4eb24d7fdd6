"""Docker and Kubernetes files: no container engine runs here, so check what can be checked."""

from __future__ import annotations

import re
import shlex
import tomllib

import yaml

from tests.python.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """Arguments of every ``name`` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def test_dockerfile_builds_the_pinned_environment_and_runs_the_pipeline() -> None:
    base = instructions("FROM")[0]
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert base.startswith("python:3.11") and requires == ">=3.11,<3.12"
    runs = " ".join(instructions("RUN"))
    assert "-r requirements.lock" in runs and "--no-deps -e ." in runs
    copied = {shlex.split(c)[0] for c in instructions("COPY")}
    assert {
        "requirements.lock",
        "ml",
        "models",
        "macros",
        "seeds",
        "tests",
        "profiles",
        "dbt_project.yml",
    } <= copied
    assert instructions("ENTRYPOINT") == ['["tini", "--", "python", "-m", "ml.pipeline"]']
    assert "install -y --no-install-recommends tini" in runs  # PID 1 passes SIGTERM on
    assert any(u.strip() == "10001" for u in instructions("USER"))


def test_cronjob_runs_the_same_command_on_the_persistent_volume() -> None:
    docs = manifests()
    cron, pvc = docs["CronJob"], docs["PersistentVolumeClaim"]
    assert cron["apiVersion"] == "batch/v1" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["tini", "--", "python", "-m", "ml.pipeline"]
    makefile = (REPO / "Makefile").read_text()
    assert "$(BIN)/python -m ml.pipeline" in makefile
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    mount = mounts["data"]
    env = {e["name"]: e["value"] for e in container["env"]}
    # A read-only root: every path the job writes is on the volume or the /tmp emptyDir.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "emptyDir" in volumes[mounts["tmp"]["name"]] and mounts["tmp"]["mountPath"] == "/tmp"
    flat = re.sub(r"\s+", " ", DOCKERFILE)
    for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "MPLCONFIGDIR"):
        assert re.search(rf"{name}=/tmp/", flat), name
    assert "PYTHONDONTWRITEBYTECODE=1" in flat and "MLFLOW_DISABLE_TELEMETRY=true" in flat
    for name in ("DUCKDB_PATH", "ADSCORE_RAW_DIR", "ADSCORE_ARTIFACTS_DIR"):
        assert env[name].startswith(mount["mountPath"] + "/")
        assert f"{name}={env[name]}" in re.sub(r"\s+", " ", DOCKERFILE)
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"]
    # The "restricted" Pod Security standard: a namespace enforcing it admits the pod.
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert limits["cpu"] == requests["cpu"] == env["ADSCORE_DBT_THREADS"]


def test_ci_workflow_runs_the_readme_commands_on_the_image_python() -> None:
    """The GitHub Actions workflow: lint, then `.ci/run` (= make test) within CI's 90 minutes,
    on the Python the image and pyproject pin; the image job smoke-tests commands that exist."""
    import subprocess
    import sys

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    steps = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert "make lint" in steps["lint"] and "./.ci/run" in steps["test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert jobs["test"]["timeout-minutes"] <= 90
    base_version = instructions("FROM")[0].split(":")[1].split("-")[0]
    for name in ("lint", "test"):
        (python,) = [
            s["with"]["python-version"] for s in jobs[name]["steps"] if "setup-python" in s.get("uses", "")
        ]
        assert python == base_version
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lint:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert workflow["permissions"] == {"contents": "read"}
    # Plain PyPI versions only (a local `+cpu` label exists on no index but PyTorch's, so a
    # fresh machine with PyPI alone could not install the lock); the image still takes the
    # CPU build from PyTorch's CPU index:
    lock = (REPO / "requirements.lock").read_text()
    assert "torch==2.13.0\n" in lock and not re.search(r"^[^#].*==[^\s]*\+", lock, re.M)
    assert f"--extra-index-url {workflow['env']['PIP_EXTRA_INDEX_URL']}" in re.sub(r"\s+", " ", DOCKERFILE)
    image = " ".join(steps["image"])
    assert "docker build" in image and "ml.pipeline --dry-run" in image
    plan = subprocess.run(
        [sys.executable, "-m", "ml.pipeline", "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0 and "dbt_build" in plan.stdout + plan.stderr

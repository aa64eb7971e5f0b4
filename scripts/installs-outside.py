#!/usr/bin/env python3
"""Many installations, measured from outside `owp bench`.

`owp bench --github-installations N` both sends the deliveries and reads the figures. This
script checks those figures with a harness of its own, sharing no code with the bench: it
starts the simulated GitHub in a process of its own (`owp bench --github-sim-serve`, the same
simulation `--github-apart` runs), starts `owp serve` against it, opens the issues and sends
their signed `issues.opened` deliveries from threads of its own, and times, on its own clock,
when the last task exists (counted in the database) and when the last status comment arrived
(counted by the simulation).

    scripts/installs-outside.py --owp target/release/owp --installations 200
    scripts/installs-outside.py --owp target/release/owp --installations 200 \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres

The shape is the bench's: each installation on an account of its own with `--repos`
repositories, `--deliveries` issues each, the installations taking turns. It prints one
Markdown row: installations, deliveries, GitHub ms, applied/s, status comments/s, GitHub
requests, the server's peak RSS in MB (Linux), writes faster than GitHub allows, issues with two
status comments, deliveries not accepted. Standard library only; needs `psql` for PostgreSQL.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

APP_ID = 4242
FIRST_INSTALLATION = 70_001
AUTHOR = ("outside-author", 6_161)
SECRET = "outside-webhook-secret"
LABELS = ["pool:ready", "estimate:2"]  # as the simulation labels the issues it opens
POLL_S = 0.05
START_WAIT_S = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """One keep-alive connection to one server."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, value=None):
        body = None if value is None else json.dumps(value)
        status, data = self.call(method, path, body, {"content-type": "application/json"})
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
        return json.loads(data) if data else None


def installation(i, repos):
    account = f"outside-org{i}"
    return [
        FIRST_INSTALLATION + i,
        account,
        [[600_000 + i * repos + j, f"{account}/repo{j}"] for j in range(repos)],
    ]


def deliveries(installations, repos, per_installation):
    all_ = [installation(i, repos) for i in range(installations)]
    out = []
    for d in range(per_installation):
        for inst_id, _, rs in all_:
            repo_id, repo = rs[d % len(rs)]
            out.append((inst_id, repo_id, repo, d // len(rs) + 1))
    return all_, out


def opened(inst_id, repo_id, repo, number, issue_id, title, text):
    owner, name = repo.split("/", 1)
    author = {"login": AUTHOR[0], "id": AUTHOR[1], "type": "User"}
    return json.dumps({
        "action": "opened",
        "issue": {
            "id": issue_id, "number": number, "title": title, "body": text, "state": "open",
            "labels": [{"name": n} for n in LABELS],
            "html_url": f"https://github.com/{repo}/issues/{number}",
            "user": author, "author_association": "NONE",
            "issue_dependencies_summary": {
                "blocked_by": 0, "total_blocked_by": 0, "blocking": 0, "total_blocking": 0},
        },
        "repository": {
            "id": repo_id, "name": name, "full_name": repo, "private": False,
            "default_branch": "main",
            "owner": {"login": owner, "id": inst_id, "type": "Organization"},
        },
        "installation": {"id": inst_id},
        "sender": author,
    })


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--owp", default="target/release/owp")
    p.add_argument("--sim-owp", help="the owp whose `bench --github-sim-serve` simulates GitHub "
                   "(default: --owp; an earlier build may not have it)")
    p.add_argument("--installations", type=int, default=200)
    p.add_argument("--deliveries", type=int, default=10)
    p.add_argument("--repos", type=int, default=2)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--senders", type=int, default=16)
    p.add_argument("--database-url", help="PostgreSQL server (a database of its own is made)")
    p.add_argument("--key", default="tests/fixtures/github/test-app-key.pem")
    p.add_argument("--wait-s", type=int, default=900)
    a = p.parse_args()
    if min(a.installations, a.deliveries, a.repos, a.senders) < 1:
        sys.exit("installations, deliveries, repos and senders must be at least 1")
    key = os.path.abspath(a.key)
    # The server runs in a scratch directory: a path given relative to here must still name it.
    a.owp = os.path.abspath(a.owp) if os.sep in a.owp else a.owp
    if a.sim_owp and os.sep in a.sim_owp:
        a.sim_owp = os.path.abspath(a.sim_owp)
    work = tempfile.mkdtemp(prefix="owp-outside-")

    sim = subprocess.Popen(
        [a.sim_owp or a.owp, "bench", "--github-sim-serve", str(APP_ID), "--github-latency-ms",
         str(a.latency_ms), "--github-key", key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    where = json.loads(sim.stdout.readline())
    control = Http(where["control"])
    all_installations, all_deliveries = deliveries(a.installations, a.repos, a.deliveries)
    control.json("POST", "/installations", all_installations)

    db_url = session = None
    if a.database_url:
        name = "owp_outside_" + uuid.uuid4().hex[:12]
        psql(a.database_url, f"CREATE DATABASE {name}")
        db_url = a.database_url.rsplit("/", 1)[0] + "/" + name
        where_db = ["--database-url", db_url]
        # One session kept open: a psql started for every count would load the cores the
        # server shares.
        session = subprocess.Popen(["psql", db_url, "-AtqX"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, bufsize=1)

        def count():
            # A failed count prints nothing: the mark ends the answer either way.
            session.stdin.write("SELECT COUNT(*) FROM tasks;\n\\echo end\n")
            session.stdin.flush()
            n = 0
            while (line := session.stdout.readline()) and line.strip() != "end":
                n = int(line) if line.strip().isdigit() else n
            if not line:
                sys.exit("psql stopped")
            return n
    else:
        path = os.path.join(work, "outside.db")
        where_db = ["--db", path]
        reader = None

        def count():
            nonlocal reader
            if reader is None:
                reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            return reader.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("OWP_DATABASE_URL", "OWP_DB", "GITHUB_PRIVATE_KEY")}
    env.update({
        "GITHUB_APP_ID": str(APP_ID), "GITHUB_PRIVATE_KEY_PATH": key,
        "GITHUB_API_URL": where["api"], "GITHUB_WEBHOOK_SECRET": SECRET,
        "OWP_ADMIN_TOKEN": uuid.uuid4().hex, "OWP_LOG": "warn",
    })
    def stop_sim_and_drop_db():
        sim.stdin.close()
        sim.wait(30)
        if db_url:
            if session:
                session.stdin.close()
                session.wait(30)
            psql(a.database_url, f"DROP DATABASE IF EXISTS {db_url.rsplit('/', 1)[1]} WITH (FORCE)")

    log = open(os.path.join(work, "serve.log"), "w")
    try:
        server = subprocess.Popen(
            [a.owp, "serve", *where_db, "--host", "127.0.0.1", "--port", str(port)],
            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    except OSError as e:
        log.close()
        stop_sim_and_drop_db()
        sys.exit(f"cannot start {a.owp}: {e}")
    done = False
    try:
        owp = Http(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        while True:
            try:
                if owp.call("GET", "/healthz")[0] == 200 and \
                        control.json("GET", "/progress")["deliveries_listed"] >= 1:
                    break
            except OSError:
                pass
            if time.monotonic() - started > START_WAIT_S or server.poll() is not None:
                sys.exit(f"owp serve did not start; see {log.name}")
            time.sleep(POLL_S)

        total = len(all_deliveries)
        lock = threading.Lock()
        state = {"next": 0, "failed": 0}

        def sender():
            to_sim = Http(where["control"])
            to_owp = Http(f"http://127.0.0.1:{port}")
            while True:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= total:
                    return
                inst_id, repo_id, repo, number = all_deliveries[i]
                title, text = f"Outside issue {number} of {repo}", "Opened from outside."
                issue_id = to_sim.json("POST", "/issues", {
                    "repo": repo, "number": number, "title": title, "body": text,
                    "author": AUTHOR[0], "author_id": AUTHOR[1]})
                body = opened(inst_id, repo_id, repo, number, issue_id, title, text).encode()
                sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                status, _ = to_owp.call("POST", "/github/webhook", body, {
                    "content-type": "application/json", "x-github-event": "issues",
                    "x-github-delivery": str(uuid.uuid4()), "x-hub-signature-256": f"sha256={sig}"})
                if not 200 <= status < 300:
                    with lock:
                        state["failed"] += 1

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(a.senders)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        applied_s = status_s = None
        while applied_s is None or status_s is None:
            now = time.monotonic() - t0
            if applied_s is None and count() >= total:
                applied_s = now
            if status_s is None and control.json("GET", "/progress")["status_issues"] >= total:
                status_s = now
            if now > a.wait_s:
                sys.exit(f"gave up after {a.wait_s} s")
            time.sleep(POLL_S)
        for t in threads:
            t.join()
        rss = ""
        try:
            with open(f"/proc/{server.pid}/status") as f:
                rss = next(ln.split()[1] for ln in f if ln.startswith("VmHWM"))
                rss = f"{int(rss) / 1024:.0f}"
        except (OSError, StopIteration):
            pass
        report = control.json("GET", "/report")
        requests = sum(sum(k.values()) for k in report["per_second"].values())
        too_fast = sum(w["too_close"] + w["over_budget"] for w in report["writes"].values())
        print(f"| {a.installations} | {total} | {a.latency_ms} | {total / applied_s:.1f} | "
              f"{report['status_issues'] / status_s:.1f} | {requests} | {rss} | {too_fast} | "
              f"{report['duplicate_status']} | {state['failed']} |")
        done = True
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        stop_sim_and_drop_db()
    # The SQLite file and the server's log go with a run that finished; a failed run keeps
    # them, for the log its message names.
    if done:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

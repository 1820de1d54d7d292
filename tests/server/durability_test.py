#!/usr/bin/env python3
"""kill -9 during a stream of writes loses no committed record.

Starts `refract serve`, sets it up, and has several clients add lab results as fast as they can.
At a random moment the server is killed with SIGKILL. It is started again on the same database:
it must pass its integrity check (the server refuses to start otherwise, and for SQLite the file
is checked here too), and every write the server had acknowledged (201) must be there. Three
rounds, so that kills land in different places of the write path.

    durability_test.py REFRACT_BINARY [--db sqlite|postgresql] [--rounds N]

PostgreSQL uses REFRACT_TEST_PG_URL (a schema of its own is created with psql); the server, not
PostgreSQL, is killed.
"""
import argparse
import http.cookiejar
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PASSWORD = "durability test password"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """A signed-in session: cookie and CSRF token, JSON in and out."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.csrf and method != "GET":
            request.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                text = response.read()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, (json.loads(text) if text else None)

    def login(self, username, password):
        status, body = self.call("POST", "/session", {"username": username, "password": password})
        if status != 200:
            raise RuntimeError(f"sign-in of {username} failed: {status} {body}")
        self.csrf = body["csrf_token"]


def start_server(binary, db_url, port, log):
    process = subprocess.Popen([binary, "serve", "--db", db_url, "--listen", f"127.0.0.1:{port}", "--quiet", "--threads", "16"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []

    def read():
        for line in process.stdout:
            output.append(line)
            log.write(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)
            raise RuntimeError(f"the server exited with {process.returncode}:\n{''.join(output)}")
        if any("Press Ctrl-C" in line for line in output):
            return process, output
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start within 60 s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("refract")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=6)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="refract-durability-")
    log = open(os.path.join(workdir, "server.log"), "w")
    schema = None
    if args.db == "sqlite":
        db_path = os.path.join(workdir, "clinic.db")
        db_url = "sqlite:" + db_path
    else:
        base_url = os.environ.get("REFRACT_TEST_PG_URL")
        if not base_url:
            print("SKIPPED: REFRACT_TEST_PG_URL is not set")
            return 77
        schema = f"refract_durability_{os.getpid()}"
        subprocess.run(["psql", base_url, "-qc", f"CREATE SCHEMA {schema}"], check=True)
        db_url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, output = start_server(args.refract, db_url, port, log)
    failures = 0
    try:
        token_line = next(index for index, line in enumerate(output) if "set-up token" in line)
        token = output[token_line + 1].strip()
        admin = Client(base)
        status, body = admin.call("POST", "/setup", {"token": token, "username": "admin", "password": PASSWORD})
        assert status == 201, (status, body)
        admin.login("admin", PASSWORD)
        status, clinic = admin.call("POST", "/clinics", {"name": "Durable"})
        assert status == 201, (status, clinic)
        status, body = admin.call("POST", "/users", {"username": "writer", "role": "clinician", "clinic_id": clinic["id"], "password": PASSWORD})
        assert status == 201, (status, body)
        clinician = Client(base)
        clinician.login("writer", PASSWORD)
        status, body = clinician.call("POST", "/patients", {"record": {"schema": "refract.patient/v1", "id": "durable-1"}})
        assert status == 201, (status, body)
        patient_id = body["patient"]["id"]

        acknowledged = set()
        next_value = [0]
        lock = threading.Lock()
        for round_index in range(args.rounds):
            stop = threading.Event()
            clients = []
            for _ in range(args.writers):
                client = Client(base)
                client.login("writer", PASSWORD)
                clients.append(client)

            def write(client):
                while not stop.is_set():
                    with lock:
                        next_value[0] += 1
                        value = next_value[0]
                    try:
                        status, _ = client.call("POST", f"/patients/{patient_id}/labs", {"name": "tsh", "value": value, "date": "2026-01-01"}, timeout=5)
                    except (OSError, urllib.error.URLError):
                        continue  # The server died mid-request: this write was never acknowledged.
                    if status == 201:
                        with lock:
                            acknowledged.add(value)

            threads = [threading.Thread(target=write, args=(client,)) for client in clients]
            for thread in threads:
                thread.start()
            time.sleep(random.uniform(1.0, 3.0))
            with lock:
                before_kill = len(acknowledged)
            process.send_signal(signal.SIGKILL)
            process.wait()
            stop.set()
            for thread in threads:
                thread.join()
            print(f"round {round_index + 1}: killed with SIGKILL after {before_kill} acknowledged writes in all")

            if args.db == "sqlite":
                with sqlite3.connect(db_path) as connection:
                    result = connection.execute("PRAGMA integrity_check").fetchone()[0]
                print(f"round {round_index + 1}: SQLite integrity_check after the kill: {result}")
                if result != "ok":
                    failures += 1

            # The server runs its integrity check on start and refuses a damaged database.
            process, output = start_server(args.refract, db_url, port, log)
            reader = Client(base)
            reader.login("writer", PASSWORD)
            stored = set()
            after = 0
            while True:
                status, page = reader.call("GET", f"/patients/{patient_id}/labs?limit=200&after={after}")
                assert status == 200, (status, page)
                stored.update(int(item["body"]["value"]) for item in page["items"])
                if page["next_after"] is None:
                    break
                after = page["next_after"]
            lost = acknowledged - stored
            print(f"round {round_index + 1}: restarted; {len(acknowledged)} acknowledged, {len(stored)} stored, {len(lost)} lost")
            if lost:
                print(f"LOST: {sorted(lost)[:20]}")
                failures += 1
            if not acknowledged:
                print("no write was acknowledged: the test proved nothing")
                failures += 1
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        if schema:
            subprocess.run(["psql", os.environ["REFRACT_TEST_PG_URL"], "-q", "-c", "SET client_min_messages = warning", "-c", f"DROP SCHEMA {schema} CASCADE"],
                           check=False)
        if failures == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"server log and database kept in {workdir}")
    print("durability: ok" if failures == 0 else f"durability: {failures} problem(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

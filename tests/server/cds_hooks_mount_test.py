#!/usr/bin/env python3
"""`refract serve` mounts CDS Hooks 2.0 under /cds-services beside the clinic API.

Starts the real server twice on a throw-away SQLite database:
1. without --cds-hooks-issuer: discovery lists the three services with CORS headers, a
   patient-view call with a prefetched Patient and a MedicationRequest bundle answers cards, a
   call that needs the FHIR-server fallback answers 412 (the fallback is off for anonymous
   callers), and the clinic API still answers beside it;
2. with --cds-hooks-issuer ISS=PEM: discovery without a token answers 401;
3. on 0.0.0.0 without --cds-hooks-issuer the server warns that CDS Hooks is open to the network
   (and on loopback it does not).

usage: cds_hooks_mount_test.py REFRACT_BINARY
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

failures = []


def check(condition, message):
    if condition:
        print(f"ok    {message}")
    else:
        print(f"FAIL  {message}")
        failures.append(message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(binary, directory, extra, host="127.0.0.1"):
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--db", f"sqlite:{directory}/clinic-{port}.db", "--listen", f"{host}:{port}",
                                "--quiet", "--threads", "4", "--as-of", "2026-11-22", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 30
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return process, f"http://127.0.0.1:{port}", "".join(lines)
    process.kill()
    raise SystemExit("the server did not start:\n" + "".join(lines))


def request(url, method="GET", body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, dict(error.headers), json.loads(text) if text else None


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as directory:
        process, base, banner = start(binary, directory, [])
        try:
            check("/cds-services (no --cds-hooks-issuer" in banner, "the banner says where CDS Hooks is and that calls are not authenticated")
            check("warning: CDS Hooks" not in banner, "on loopback there is no network warning")
            status, headers, body = request(base + "/cds-services", headers={"Origin": "https://ehr.example.org"})
            check(status == 200, f"discovery answers 200 (got {status})")
            ids = sorted(service.get("id") for service in (body or {}).get("services", []))
            check(ids == ["refract-medication-order-select", "refract-medication-order-sign", "refract-trd-patient-view"],
                  f"discovery lists the three services (got {ids})")
            check(headers.get("Access-Control-Allow-Origin") in ("*", "https://ehr.example.org"), "discovery carries a CORS header")
            hook = {
                "hook": "patient-view",
                "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                "context": {"userId": "Practitioner/1", "patientId": "p1"},
                "prefetch": {
                    "patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1980-01-01", "gender": "female"},
                    "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": [
                        {"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
                                      "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-09-01",
                                      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                                                "code": "36437", "display": "sertraline"}]}}},
                        {"resource": {"resourceType": "MedicationRequest", "id": "m2", "status": "active", "intent": "order",
                                      "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-10-01",
                                      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                                                "code": "8123", "display": "phenelzine"}]}}}]},
                },
            }
            status, _, body = request(base + "/cds-services/refract-trd-patient-view", "POST", hook)
            check(status == 200 and isinstance((body or {}).get("cards"), list), f"patient-view answers cards (got {status})")
            summaries = [card.get("summary", "") for card in (body or {}).get("cards", [])]
            check(any(card.get("indicator") == "critical" for card in (body or {}).get("cards", [])),
                  f"an MAOI with an SSRI gives a critical card (cards: {summaries})")
            check(len(summaries) == len(set(summaries)), f"no card is repeated (cards: {summaries})")
            no_prefetch = {key: value for key, value in hook.items() if key != "prefetch"}
            no_prefetch["fhirServer"] = "http://127.0.0.1:9/fhir"
            status, _, body = request(base + "/cds-services/refract-trd-patient-view", "POST", no_prefetch)
            check(status == 412, f"without prefetch and without trusted issuers the fallback is off: 412 (got {status})")
            status, _, _ = request(base + "/api/v1/health")
            check(status == 200, f"the clinic API still answers beside CDS Hooks (got {status})")
        finally:
            process.terminate()
            process.wait(timeout=20)

        key = os.path.join(directory, "ehr-key.pem")
        public = os.path.join(directory, "ehr-public.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
        subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", public], check=True, stderr=subprocess.DEVNULL)
        process, base, banner = start(binary, directory, ["--cds-hooks-issuer", f"https://ehr.example.org={public}"])
        try:
            check("JWT from the configured issuers required" in banner, "the banner says JWTs are required")
            status, _, _ = request(base + "/cds-services")
            check(status == 401, f"with a trusted issuer, discovery without a token answers 401 (got {status})")
        finally:
            process.terminate()
            process.wait(timeout=20)

        process, base, banner = start(binary, directory, [], host="0.0.0.0")
        try:
            check("warning: CDS Hooks on 0.0.0.0 answer anyone who can reach this address without authentication" in banner,
                  "on a non-loopback address without --cds-hooks-issuer the server warns" + ("" if "warning: CDS Hooks" in banner else f" (banner: {banner!r})"))
        finally:
            process.terminate()
            process.wait(timeout=20)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

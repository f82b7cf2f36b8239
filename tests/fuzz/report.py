"""Condense schemathesis reports into a short failure list.

Usage: report.py LABEL=REPORT_DIR [LABEL=REPORT_DIR ...]

Each REPORT_DIR holds the junit and json reports of one schemathesis run. Prints one
block per distinct failure (operation, check, status), merged across runs, with the
response body and a curl line to reproduce it. Exit status: 0 when no run found a
failure or an error, 1 otherwise.
"""

from __future__ import annotations

import glob
import json
import re
import sys
import xml.etree.ElementTree as ET

BODY_LIMIT = 300

CASE_START = re.compile(r"^\d+\. Test Case ID: (\S+)")
CHECK = re.compile(r"^- (ST\d+|[A-Z]+\d*) (.+)$")
STATUS = re.compile(r"^\[(\d{3})\] (.*):$")


def newest(pattern: str) -> str | None:
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def error_code(body: str) -> str:
    """The `code` of a JSON error body, if the body is one."""
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def parse_cases(text: str) -> list[dict]:
    """Split one junit <failure> text into its test cases."""
    cases: list[dict] = []
    case: dict | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        m = CASE_START.match(stripped)
        if m:
            case = {"id": m.group(1), "checks": [], "details": [], "status": None,
                    "body": "", "curl": ""}
            cases.append(case)
        elif case is None:
            pass
        elif CHECK.match(stripped):
            cm = CHECK.match(stripped)
            case["checks"].append(f"{cm.group(1)} {cm.group(2)}")
        elif STATUS.match(stripped):
            case["status"] = STATUS.match(stripped).group(1)
            # The body is the next non-empty line.
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines):
                case["body"] = lines[j].strip().strip("`")
                i = j
        elif stripped.startswith("curl "):
            case["curl"] = stripped
        elif stripped and stripped not in ("Reproduce with:",) and not stripped.startswith("st replay"):
            if not case["status"]:
                case["details"].append(stripped)
        i += 1
    return cases


def main(argv: list[str]) -> int:
    failed = False
    merged: dict[tuple, dict] = {}
    order: list[tuple] = []
    for arg in argv:
        label, _, directory = arg.partition("=")
        summary_path = newest(f"{directory}/json-*.json")
        junit_path = newest(f"{directory}/junit-*.xml")
        if not summary_path or not junit_path:
            print(f"  {label}: no report written (schemathesis did not finish)")
            failed = True
            continue
        with open(summary_path) as f:
            summary = json.load(f)
        cases = summary.get("test_cases", {})
        ops = summary.get("operations", {})
        print(
            f"  {label}: {ops.get('tested', '?')} operations, "
            f"{cases.get('generated', '?')} test cases, "
            f"{cases.get('unique_failures', '?')} unique failures, "
            f"{len(summary.get('errors', []))} errors, "
            f"seed {summary.get('seed', '?')}, "
            f"stop reason: {summary.get('stop_reason', '?')}"
        )
        if summary.get("exit_code", 1) != 0 or not summary.get("complete", False):
            failed = True
        warnings = summary.get("warnings", {})
        for kind in ("rate_limited", "missing_auth"):
            # Every operation lacks credentials in the anonymous run, by design.
            if warnings.get(kind) and not (kind == "missing_auth" and label == "anonymous"):
                print(f"    warning {kind}: {', '.join(map(str, warnings[kind]))}")
        for err in summary.get("errors", []):
            print(f"    error: {json.dumps(err)[:BODY_LIMIT]}")
        tree = ET.parse(junit_path)
        for testcase in tree.iter("testcase"):
            op = testcase.get("name", "?")
            for node in list(testcase.findall("failure")) + list(testcase.findall("error")):
                failed = True
                text = node.text or node.get("message", "")
                parsed = parse_cases(text)
                if not parsed:
                    parsed = [{"checks": [node.get("message", node.tag)], "details": [],
                               "status": None, "body": text.strip()[:BODY_LIMIT], "curl": ""}]
                for case in parsed:
                    for check in case["checks"] or ["(no check named)"]:
                        key = (op, check, case["status"])
                        if key not in merged:
                            merged[key] = {"runs": [], **case}
                            order.append(key)
                        if label not in merged[key]["runs"]:
                            merged[key]["runs"].append(label)
    # Group the failures that share a cause (check, status, error code) so that one
    # missing response in the document reads as one finding, not thirty.
    groups: dict[tuple, list[tuple]] = {}
    for key in order:
        op, check, status = key
        groups.setdefault((check, status, error_code(merged[key]["body"])), []).append(key)
    if groups:
        print(f"\n  {len(order)} distinct failures (operation, check, status) in {len(groups)} groups:")
    for (check, status, code), keys in groups.items():
        runs = sorted({run for key in keys for run in merged[key]["runs"]})
        what = f"got {status or 'no response'}" + (f" {code}" if code else "")
        print(f"\n  * {check}: {what} -- {len(keys)} operation(s) [{', '.join(runs)}]")
        shown = keys if len(keys) <= 3 else keys[:1]
        if len(keys) > 3:
            print("      " + "\n      ".join(sorted(k[0] for k in keys)))
        for key in shown:
            item = merged[key]
            print(f"      e.g. {key[0]}")
            for detail in item["details"][:4]:
                print(f"        {detail}")
            if item["body"]:
                body = item["body"]
                if len(body) > BODY_LIMIT:
                    body = body[:BODY_LIMIT] + "..."
                print(f"        response: {body}")
            if item["curl"]:
                print(f"        reproduce: {item['curl']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

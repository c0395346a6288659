#!/usr/bin/env python3
"""Applies the lab's patches to the pinned ministack in a virtualenv (idempotent).

Usage: patch-emulator.py <venv-dir> <ministack-version>

One patch today, `error-type`: ministack 1.5.33's Node warm worker reports a
handler error as {status, error: message, trace} and lambda_svc.py then calls
every such error `Runtime.HandlerError`, so the error's name is lost and a
state machine's Retry/Catch on a custom name (Pgq.Retriable) never matches.
On AWS the Node runtime reports `errorType` = the error's `name`. The patch
sends `errorType: err.name` from the bootstrap and uses it in lambda_svc.py.
Drop it (and this script's call sites) when upstream reports errorType itself:
docs/emulator-notes.md says how to check.

Each edit is an exact text replacement that must match once; anything else
(another version, an upstream change) fails loudly instead of half-patching.
On success a marker file records the version and patch set, which both
scripts/install-emulator.sh and lab/world/emulator.ts check before calling the
emulator "installed".
"""
import glob
import os
import sys

PATCH_SET = "error-type-v1"
MARKER = "pgq-emulator-patches"

# (relative file, original text, patched text)
EDITS = [
    (
        "ministack/core/lambda_runtime.py",
        'status: "error", error: String(err.message || err), trace: err.stack || ""',
        'status: "error", error: String(err.message || err), trace: err.stack || "",'
        ' errorType: (err && typeof err.name === "string" && err.name) || undefined /* pgq-lab:error-type */',
    ),
    (
        "ministack/core/lambda_runtime.py",
        '        status: "error", error: e.message, trace: e.stack\n      }) + "\\n");\n    }\n  } catch (e) {',
        '        status: "error", error: e.message, trace: e.stack,'
        ' errorType: (e && typeof e.name === "string" && e.name) || undefined /* pgq-lab:error-type */\n'
        '      }) + "\\n");\n    }\n  } catch (e) {',
    ),
    (
        "ministack/services/lambda_svc.py",
        '            error_msg = result.get("error", "Unknown error")\n'
        '            error_type = "Runtime.HandlerError"\n',
        '            error_msg = result.get("error", "Unknown error")\n'
        '            error_type = result.get("errorType") or "Runtime.HandlerError"  # pgq-lab:error-type\n',
    ),
]


def main() -> int:
    venv, version = sys.argv[1], sys.argv[2]
    want = f"ministack=={version} {PATCH_SET}\n"
    marker = os.path.join(venv, MARKER)
    # The files are checked every time (cheap): a reinstalled package must not hide behind an old marker.
    if os.path.exists(marker):
        os.remove(marker)
    sites = glob.glob(os.path.join(venv, "lib", "python*", "site-packages"))
    site = next((s for s in sites if os.path.isdir(os.path.join(s, f"ministack-{version}.dist-info"))), None)
    if not site:
        print(f"patch-emulator: ministack {version} is not installed in {venv}", file=sys.stderr)
        return 1
    texts = {}
    for rel, old, new in EDITS:
        path = os.path.join(site, rel)
        text = texts.get(path) or open(path).read()
        if text.count(new) == 1:
            texts[path] = text
            continue  # already applied (a previous run stopped before writing the marker)
        if text.count(old) != 1:
            print(f"patch-emulator: {rel}: expected text not found once (ministack changed?); not patching",
                  file=sys.stderr)
            return 1
        texts[path] = text.replace(old, new)
    for path, text in texts.items():
        tmp = f"{path}.pgq-tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    with open(marker, "w") as f:
        f.write(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())

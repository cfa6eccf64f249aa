"""Write rules/<CODE>.md and rules/README.md from the built-in rules' own metadata.

python scripts/make_rule_docs.py            # (re)write rules/
python scripts/make_rule_docs.py --check    # exit 1 when rules/ is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from dcmencaps_lint.docs import markdown_index, markdown_page
from dcmencaps_lint.registry import load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"


def expected_files() -> dict[Path, str]:
    rules = [r for r in load_rules() if r.origin == "dcmencaps_lint"]
    files = {RULES_DIR / f"{r.code}.md": markdown_page(r) for r in rules}
    files[RULES_DIR / "README.md"] = markdown_index(rules)
    return files


def main(argv: list[str]) -> int:
    files = expected_files()
    if "--check" in argv:
        stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
        extra = [p.name for p in RULES_DIR.glob("*.md") if p not in files]
        if stale or extra:
            print("rules/ is stale (run python scripts/make_rule_docs.py):", *stale, *extra)
            return 1
        return 0
    RULES_DIR.mkdir(exist_ok=True)
    for path in RULES_DIR.glob("*.md"):
        if path not in files:
            path.unlink()
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

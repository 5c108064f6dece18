"""Copy queries/<name>.sql into the QueryString of the NamedQuery named <name>.

    python3 tests/support/sync_named_queries.py          # rewrite template.yaml in place
    python3 tests/support/sync_named_queries.py --check  # exit 1 if anything differs

Only the literal block (``QueryString: |``) of each AWS::Athena::NamedQuery is replaced,
so comments and layout of the rest of template.yaml are kept. Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# "      Name: <name>" ... "      QueryString: |" followed by the indented block.
_BLOCK = re.compile(
    r"(?P<head>^(?P<indent> +)Name: (?P<name>[a-z_]+)\n(?:(?P=indent)\S.*\n)*?"
    r"(?P=indent)QueryString: \|\n)"
    r"(?P<body>(?:(?P=indent)  .*\n|\n)*)",
    re.MULTILINE,
)


def render(sql: str, indent: str) -> str:
    return "".join((indent + "  " + line if line.strip() else "") + "\n" for line in sql.rstrip("\n").split("\n"))


def sync(template_text: str, queries_dir: Path) -> tuple[str, list[str]]:
    changed: list[str] = []

    def replace(m: re.Match) -> str:
        path = queries_dir / f"{m.group('name')}.sql"
        if not path.exists():
            return m.group(0)
        body = render(path.read_text(encoding="utf-8"), m.group("indent"))
        # keep the blank line that separates the block from the next resource
        trailing = m.group("body")[len(m.group("body").rstrip("\n")) + 1 :]
        if m.group("body").rstrip("\n") + "\n" != body:
            changed.append(m.group("name"))
        return m.group("head") + body + trailing

    return _BLOCK.sub(replace, template_text), changed


def main(argv: list[str]) -> int:
    template = ROOT / "template.yaml"
    text, changed = sync(template.read_text(encoding="utf-8"), ROOT / "queries")
    if "--check" in argv:
        print("out of sync: " + ", ".join(changed) if changed else "in sync")
        return 1 if changed else 0
    template.write_text(text, encoding="utf-8")
    print("updated: " + ", ".join(changed) if changed else "already in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

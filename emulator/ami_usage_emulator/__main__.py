"""``python -m ami_usage_emulator --port PORT`` (what ``scripts/emulator`` runs)."""

from .server import main

if __name__ == "__main__":
    main()

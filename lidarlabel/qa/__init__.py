"""Quality assurance: version diff, lint, detection and tracking metrics (no Qt)."""

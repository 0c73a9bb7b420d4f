"""The kopf operator: ``main`` routes events to thin handlers; ``run`` starts it."""

"""The Kubernetes runtime backend: what the operator keeps and runs in the cluster."""

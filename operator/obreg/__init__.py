"""obreg: the WSO2 Open Banking manual client registration runbook as Kubernetes resources."""

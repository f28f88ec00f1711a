"""Deployment files (docker compose, RabbitMQ, Prometheus, Grafana, Kubernetes) and the script that generates some."""

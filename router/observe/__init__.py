"""What laneway tells about itself: Prometheus metrics and the access log line."""

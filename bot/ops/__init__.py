"""Operations: Prometheus metrics (`bot.ops.metrics`) and the health/ready/metrics HTTP server (`bot.ops.health`)."""

"""The durable message bus: a table in the app's database (the outbox, and the queue
itself with ``db://``), RabbitMQ with ``amqp://``, and the consumer with its retries and
failure queue."""

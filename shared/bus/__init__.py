"""The message bus: versioned envelopes over Kafka, one producer, one consumer runner."""

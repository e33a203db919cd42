"""Files: goal attachments and account knowledge, their stored bytes and extracted text."""

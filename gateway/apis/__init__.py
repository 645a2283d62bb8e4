"""One adapter per model API (chat completions, Responses, embeddings); the pipeline runs them all."""

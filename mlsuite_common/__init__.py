"""Code shared by the MLSuite servers: domain errors, the error-mapping interceptor, the server lifecycle."""

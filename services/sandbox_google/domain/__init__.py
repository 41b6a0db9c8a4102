"""Pure rules of Google's Customer Match APIs: no gRPC, no SDK types, no I/O."""

//! The store conformance suite on the in-memory store.

icash_core::conformance_suite!(async { std::sync::Arc::new(icash_core::MemoryStore::new()) });

//! The store conformance suite on PostgreSQL, one fresh database per case.

icash_core::conformance_suite!(icash_postgres::testing::TestDb::new());

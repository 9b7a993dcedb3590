//! One module per subcommand (or group of related subcommands), each owning its clap
//! arguments and its body. They import `crate::support`, never `cli` nor each other
//! (within `bench`, both load generators share `bench::load`).

pub(crate) mod account;
pub(crate) mod batch;
pub(crate) mod batcher;
pub(crate) mod bench;
pub(crate) mod chain;
pub(crate) mod challenger;
pub(crate) mod devnet;
pub(crate) mod keys;
pub(crate) mod markets;
pub(crate) mod node;
pub(crate) mod orders;
pub(crate) mod proposer;

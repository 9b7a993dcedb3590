//! Deploys the contracts of a Straddle chain (collateral token, output registry, its
//! dispute game and one-step prover, portal, batch inbox and its opener) from the bytecode in
//! `straddle-l1-contracts`.

use crate::{L1Client, L1Error};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolConstructor;
use serde::{Deserialize, Serialize};
use straddle_l1_contracts::{
    BatchInbox, DisputeGame, LiquidationStepProver, MarginStepProver, MatchStepProver,
    OptionPricer, OracleStepProver, OrderStepProver, OutputRegistry, Portal, SourceRules,
    StepProver, TestUSDC,
};
use straddle_primitives::Domain;

/// Who holds each role and the registry's parameters.
#[derive(Clone, Debug)]
pub struct DeployConfig {
    /// May propose outputs.
    pub proposer: Address,
    /// Hash of L2 block 0 (the dispute game's anchor before any output is final).
    pub genesis_block_hash: B256,
    /// The L2's EIP-712 signing domain (the one-step prover checks signatures in it).
    pub l2_domain: Domain,
    /// Each side's clock in a dispute game, seconds.
    pub dispute_clock_secs: u64,
    /// The L2 account that may mint (the genesis operator with the devnet faucet on),
    /// zero when none may.
    pub faucet_operator: Address,
    /// The genesis operator, who alone closes markets; zero when the genesis names none.
    pub operator: Address,
    /// May post batches.
    pub batcher: Address,
    /// Seconds before an output finalizes.
    pub challenge_window_secs: u64,
    /// Bond per output, wei.
    pub bond_wei: u128,
    /// L1 blocks within which the L2 must include a forced transaction.
    pub forced_inclusion_window: u64,
    /// What the one-step prover needs for oracle updates.
    pub oracle_prover: OracleProverConfig,
}

/// What the one-step prover needs for oracle updates (`OracleStepProver`): the option
/// pricer's constants (`straddle_math::constant_table()`) and the genesis underlyings.
/// Empty by default: a chain without underlyings has no oracle updates to prove.
#[derive(Clone, Debug, Default)]
pub struct OracleProverConfig {
    /// The pricer's constant table.
    pub pricer_constants: Vec<u8>,
    /// The genesis underlyings.
    pub underlyings: Vec<ProverUnderlying>,
}

/// An underlying's genesis configuration as `OracleStepProver` holds it.
pub type ProverUnderlying = OracleStepProver::UnderlyingConfig;
/// An underlying's risk parameters as `OracleStepProver` passes them to the pricer.
pub type ProverRiskParams = straddle_l1_contracts::oracle_step_prover::OptionPricer::RiskParams;

/// Where the contracts live, and the L1 block the chain starts at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The collateral token (TestUSDC on devnet).
    pub collateral: Address,
    /// The output registry.
    pub output_registry: Address,
    /// The dispute game (the registry's resolver).
    pub dispute_game: Address,
    /// The one-step prover the game calls.
    pub step_prover: Address,
    /// The portal (deposits, withdrawals).
    pub portal: Address,
    /// The batch inbox.
    pub batch_inbox: Address,
    /// The batch opener (proves what a batch says one transaction is).
    pub batch_opener: Address,
    /// The L1 block of the first deployment: derivation reads logs from here.
    pub start_block: u64,
}

impl L1Client {
    /// Deploys `code` with its ABI-encoded constructor `args`; returns the address and
    /// the deployment's L1 block.
    pub(crate) async fn deploy_code(
        &self,
        code: &[u8],
        args: &[u8],
        what: &'static str,
    ) -> Result<(Address, u64), L1Error> {
        let request =
            TransactionRequest::default().with_deploy_code(Bytes::from([code, args].concat()));
        let receipt = self.send(request, what).await?;
        let address = receipt
            .contract_address
            .ok_or(L1Error::NoContractAddress(what))?;
        Ok((address, receipt.block_number.unwrap_or_default()))
    }

    /// Deploys a test collateral token and the chain's contracts.
    pub async fn deploy_devnet(&self, config: &DeployConfig) -> Result<Deployment, L1Error> {
        let (collateral, start_block) = self
            .deploy_code(&TestUSDC::BYTECODE, &[], "deploy TestUSDC")
            .await?;
        self.deploy_with_collateral(collateral, config, start_block)
            .await
    }

    /// Deploys the chain's contracts around an existing collateral token.
    pub async fn deploy_with_collateral(
        &self,
        collateral: Address,
        config: &DeployConfig,
        start_block: u64,
    ) -> Result<Deployment, L1Error> {
        let bond = alloy::primitives::Uint::<96, 2>::try_from(config.bond_wei)
            .map_err(|_| L1Error::Decode("bond does not fit in 96 bits".into()))?;
        // The registry names the game as its resolver and the game names the registry:
        // the game's address is fixed in advance (the deployer's nonce after the
        // registry, the portal, the prover (eight contracts: five provers, the oracle
        // prover's pricer and its constants), the inbox, the opener and the source rules).
        let nonce = self
            .provider
            .get_transaction_count(self.signer)
            .await
            .map_err(L1Error::rpc)?;
        let expected_game = self.signer.create(nonce + 13);
        let registry_args = OutputRegistry::constructorCall {
            proposer_: config.proposer,
            resolver_: expected_game,
            challengeWindow_: config.challenge_window_secs,
            bondAmount_: bond,
        }
        .abi_encode();
        let (output_registry, _) = self
            .deploy_code(
                &OutputRegistry::BYTECODE,
                &registry_args,
                "deploy OutputRegistry",
            )
            .await?;
        let portal_args = Portal::constructorCall {
            collateral_: collateral,
            outputs_: output_registry,
            forcedInclusionWindow_: config.forced_inclusion_window,
        }
        .abi_encode();
        let (portal, _) = self
            .deploy_code(&Portal::BYTECODE, &portal_args, "deploy Portal")
            .await?;
        let step_prover = self
            .deploy_step_prover(
                config.l2_domain.chain_id,
                config.l2_domain.verifying_contract,
                portal,
                config.faucet_operator,
                config.operator,
                &config.oracle_prover,
            )
            .await?;
        let inbox_args = BatchInbox::constructorCall {
            batcher_: config.batcher,
        }
        .abi_encode();
        let (batch_inbox, _) = self
            .deploy_code(&BatchInbox::BYTECODE, &inbox_args, "deploy BatchInbox")
            .await?;
        let batch_opener = self
            .deploy_batch_opener(
                batch_inbox,
                portal,
                config.l2_domain.chain_id,
                config.l2_domain.verifying_contract,
            )
            .await?;
        let rules_args = SourceRules::constructorCall {
            opener_: batch_opener,
        }
        .abi_encode();
        let (source_rules, _) = self
            .deploy_code(&SourceRules::BYTECODE, &rules_args, "deploy SourceRules")
            .await?;
        let game_args = DisputeGame::constructorCall {
            registry_: output_registry,
            prover_: step_prover,
            genesisBlockHash_: config.genesis_block_hash,
            clockSeconds_: config.dispute_clock_secs,
            rules_: source_rules,
        }
        .abi_encode();
        let (dispute_game, _) = self
            .deploy_code(&DisputeGame::BYTECODE, &game_args, "deploy DisputeGame")
            .await?;
        if dispute_game != expected_game {
            return Err(L1Error::Decode(format!(
                "the dispute game landed at {dispute_game}, not at the registry's resolver {expected_game} (another transaction from the deployer interleaved)"
            )));
        }
        Ok(Deployment {
            collateral,
            output_registry,
            dispute_game,
            step_prover,
            portal,
            batch_inbox,
            batch_opener,
            start_block,
        })
    }

    /// Mints devnet collateral (TestUSDC has an open mint) to `to`.
    pub async fn mint_test_collateral(
        &self,
        token: Address,
        to: Address,
        amount: u128,
    ) -> Result<(), L1Error> {
        let call = TestUSDC::mintCall {
            to,
            amount: U256::from(amount),
        };
        self.transact(token, &call, U256::ZERO, "mint test collateral")
            .await
            .map(|_| ())
    }

    /// Deploys an `OracleStepProver` for L2 chain `chain_id` (signing domain naming
    /// `verifying_contract`) pricing with `pricer` (see [`L1Client::deploy_option_pricer`])
    /// and holding the genesis `underlyings`.
    pub async fn deploy_oracle_step_prover(
        &self,
        chain_id: u64,
        verifying_contract: Address,
        pricer: Address,
        underlyings: Vec<ProverUnderlying>,
    ) -> Result<Address, L1Error> {
        let args = OracleStepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
            pricer_: pricer,
            underlyings,
        }
        .abi_encode();
        let (address, _) = self
            .deploy_code(
                &OracleStepProver::BYTECODE,
                &args,
                "deploy OracleStepProver",
            )
            .await?;
        Ok(address)
    }

    /// Deploys a `StepProver` and the provers it forwards to (`OrderStepProver`:
    /// placements and market closings, `MarginStepProver`: margin withdrawals and
    /// retirements, `MatchStepProver`: matches, `LiquidationStepProver`: liquidations and
    /// auto-deleveraging, `OracleStepProver` with its `OptionPricer`: oracle updates'
    /// sub-steps; eight deployments) for signed actions of L2 chain `chain_id` whose
    /// signing domain names `verifying_contract`, checking deposits and forced
    /// transactions against `portal`; `faucet_operator` alone may mint and `operator`
    /// alone close markets (zero: nobody).
    pub async fn deploy_step_prover(
        &self,
        chain_id: u64,
        verifying_contract: Address,
        portal: Address,
        faucet_operator: Address,
        operator: Address,
        oracle_prover: &OracleProverConfig,
    ) -> Result<Address, L1Error> {
        let orders_args = OrderStepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
            portal_: portal,
            operator_: operator,
        }
        .abi_encode();
        let (orders, _) = self
            .deploy_code(
                &OrderStepProver::BYTECODE,
                &orders_args,
                "deploy OrderStepProver",
            )
            .await?;
        let margin_args = MarginStepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
            portal_: portal,
        }
        .abi_encode();
        let (margin, _) = self
            .deploy_code(
                &MarginStepProver::BYTECODE,
                &margin_args,
                "deploy MarginStepProver",
            )
            .await?;
        let matches_args = MatchStepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
        }
        .abi_encode();
        let (matches, _) = self
            .deploy_code(
                &MatchStepProver::BYTECODE,
                &matches_args,
                "deploy MatchStepProver",
            )
            .await?;
        let liquidations_args = LiquidationStepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
        }
        .abi_encode();
        let (liquidations, _) = self
            .deploy_code(
                &LiquidationStepProver::BYTECODE,
                &liquidations_args,
                "deploy LiquidationStepProver",
            )
            .await?;
        let pricer = self
            .deploy_option_pricer(&oracle_prover.pricer_constants)
            .await?;
        let oracles = self
            .deploy_oracle_step_prover(
                chain_id,
                verifying_contract,
                pricer,
                oracle_prover.underlyings.clone(),
            )
            .await?;
        let args = StepProver::constructorCall {
            chainId: chain_id,
            verifyingContract: verifying_contract,
            portal_: portal,
            faucetOperator_: faucet_operator,
            orders_: orders,
            margin_: margin,
            matches_: matches,
            liquidations_: liquidations,
            oracles_: oracles,
        }
        .abi_encode();
        let (address, _) = self
            .deploy_code(&StepProver::BYTECODE, &args, "deploy StepProver")
            .await?;
        Ok(address)
    }

    /// Deploys the option pricer (`OptionPricer.sol`): first its constants, as a data
    /// contract whose code is a STOP byte followed by `constants`
    /// (`straddle_math::constant_table()`), then the pricer reading them. Returns the
    /// pricer's address.
    pub async fn deploy_option_pricer(&self, constants: &[u8]) -> Result<Address, L1Error> {
        let code = [&[0x00], constants].concat();
        let length = u16::try_from(code.len())
            .map_err(|_| L1Error::Decode(format!("{} bytes of constants", constants.len())))?;
        let [high, low] = length.to_be_bytes();
        // PUSH2 length, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN:
        // the deployed code is what follows these 10 bytes.
        let creation = [
            &[0x61, high, low, 0x80, 0x60, 0x0a, 0x3d, 0x39, 0x3d, 0xf3][..],
            &code,
        ]
        .concat();
        let (table, _) = self
            .deploy_code(&creation, &[], "deploy the option pricer's constants")
            .await?;
        let args = OptionPricer::constructorCall { table_: table }.abi_encode();
        let (pricer, _) = self
            .deploy_code(&OptionPricer::BYTECODE, &args, "deploy OptionPricer")
            .await?;
        Ok(pricer)
    }
}

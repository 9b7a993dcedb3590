//! Deposits: making one (approve and deposit) and reading the Portal's `DepositQueued`
//! events back as L2 deposits.

use crate::{L1Client, L1Error, event_logs, receipt_event};
use alloy::primitives::{Address, U256};
use straddle_l1_contracts::{Portal, TestUSDC};
use straddle_primitives::Deposit;

/// A deposit event with where it was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositLog {
    /// The deposit.
    pub deposit: Deposit,
    /// The Portal's accumulator after it.
    pub accumulator: alloy::primitives::B256,
    /// L1 block number.
    pub l1_block: u64,
}

/// The Portal's deposits logged in L1 blocks `from..=to`, in log order.
pub async fn deposits_between(
    client: &L1Client,
    portal: Address,
    from: u64,
    to: u64,
) -> Result<Vec<DepositLog>, L1Error> {
    event_logs::<Portal::DepositQueued>(client, portal, from, to)
        .await?
        .into_iter()
        .map(|(event, l1_block)| {
            let amount = u128::try_from(event.amount)
                .map_err(|_| L1Error::Decode("deposit amount above 128 bits".into()))?;
            Ok(DepositLog {
                deposit: Deposit {
                    index: event.index,
                    from: event.from,
                    recipient: event.l2Recipient,
                    amount,
                },
                accumulator: event.accumulator,
                l1_block,
            })
        })
        .collect()
}

impl L1Client {
    /// `owner`'s balance of the ERC-20 `token`.
    pub async fn token_balance(&self, token: Address, owner: Address) -> Result<U256, L1Error> {
        self.view(token, &TestUSDC::balanceOfCall { account: owner })
            .await
    }

    /// Approves the Portal and deposits `amount` of `token` for `l2_recipient`; returns
    /// the deposit's index.
    pub async fn deposit(
        &self,
        token: Address,
        portal: Address,
        l2_recipient: Address,
        amount: u128,
    ) -> Result<u64, L1Error> {
        let approve = TestUSDC::approveCall {
            spender: portal,
            value: U256::from(amount),
        };
        self.transact(token, &approve, U256::ZERO, "approve the Portal")
            .await?;
        let call = Portal::depositCall {
            l2Recipient: l2_recipient,
            amount: U256::from(amount),
        };
        let receipt = self.transact(portal, &call, U256::ZERO, "deposit").await?;
        Ok(receipt_event::<Portal::DepositQueued>(&receipt)?.index)
    }
}

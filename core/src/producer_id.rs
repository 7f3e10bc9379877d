//! Producer ids (KIP-98) unique across a cluster, handed out as Kafka does since KIP-730: one
//! counter kept in the metadata log gives each broker a block of [`PRODUCER_ID_BLOCK_SIZE`]
//! ids at a time (Kafka's `AllocateProducerIds` request, recorded as a `ProducerIdsRecord`),
//! and the broker answers InitProducerId from its block, asking for the next block when it
//! is used up. A block is given out once, so no two producers share an id whatever the
//! brokers' clocks say (two producers with one id would have one's first batch taken for the
//! other's duplicate: acknowledged, never written), and a restarted broker starts a fresh
//! block. A single node keeps the counter in its data directory instead of a metadata log.

/// Ids in one block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// The ids `first..first + PRODUCER_ID_BLOCK_SIZE`, given to one broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProducerIdBlock {
    /// The block's first id.
    pub first: i64,
}

/// The controller's side: where the next block starts (Kafka's `nextProducerId` of the last
/// `ProducerIdsRecord`). Applied in log order, every node computes the same blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerIdCounter {
    next: i64,
}

impl ProducerIdCounter {
    /// A counter whose next block starts at `next` (a single node's saved counter; negative
    /// values count as 0).
    pub fn starting_at(next: i64) -> Self {
        Self { next: next.max(0) }
    }

    /// The counter, moved past `in_use` (the highest producer id the node's partitions and
    /// transaction log still know) if it is not already: a counter file that was lost or
    /// never written (data from an older runnel) must not hand out an id a producer's state
    /// still holds, or that producer's next batch is taken for a duplicate.
    pub fn above(self, in_use: Option<i64>) -> Self {
        let floor = in_use.map_or(0, |id| id.saturating_add(1));
        Self {
            next: self.next.max(floor),
        }
    }

    /// Where the next block starts: what a single node saves before handing out a block.
    pub fn next_block_start(&self) -> i64 {
        self.next
    }

    /// The next block, never given before. `None` when the id space is used up (Kafka
    /// refuses the allocation then too).
    pub fn allocate(&mut self) -> Option<ProducerIdBlock> {
        let first = self.next;
        self.next = first.checked_add(PRODUCER_ID_BLOCK_SIZE)?;
        Some(ProducerIdBlock { first })
    }
}

/// A broker's side: the block it hands ids out of (none until the first InitProducerId).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerIds {
    block: Option<ProducerIdBlock>,
    next: i64,
}

impl ProducerIds {
    /// The next id of the current block; `None`: the block is used up (or none was given
    /// yet), ask the controller for one and hand it to [`ProducerIds::handle_block`].
    pub fn next_id(&mut self) -> Option<i64> {
        let block = self.block?;
        if self.next >= block.first.saturating_add(PRODUCER_ID_BLOCK_SIZE) {
            return None;
        }
        let id = self.next;
        self.next += 1;
        Some(id)
    }

    /// A block the controller gave this broker: ids come from it from now on.
    pub fn handle_block(&mut self, block: ProducerIdBlock) {
        self.block = Some(block);
        self.next = block.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KIP-730: blocks of 1,000 from one counter, each given once; a broker hands out each id
    /// of its block once, then needs a new block.
    #[test]
    fn blocks_are_given_once_and_each_id_of_a_block_once() {
        let mut counter = ProducerIdCounter::default();
        let a = counter.allocate().expect("a block");
        let b = counter.allocate().expect("a block");
        assert_eq!((a.first, b.first), (0, 1_000));
        assert_eq!(counter.next_block_start(), 2_000);

        let mut broker = ProducerIds::default();
        assert_eq!(broker.next_id(), None, "no block yet");
        broker.handle_block(b);
        let ids: alloc::vec::Vec<i64> = core::iter::from_fn(|| broker.next_id()).collect();
        assert_eq!(ids.len(), 1_000);
        assert_eq!((ids[0], ids[999]), (1_000, 1_999));
        assert_eq!(broker.next_id(), None, "used up: ask for the next block");

        let mut near_the_end = ProducerIdCounter::starting_at(i64::MAX - 1_500);
        assert!(near_the_end.allocate().is_some());
        assert_eq!(near_the_end.allocate(), None, "the id space is used up");
        assert_eq!(ProducerIdCounter::starting_at(-5).next_block_start(), 0);
        assert_eq!(
            ProducerIdCounter::starting_at(0)
                .above(Some(1_004))
                .allocate(),
            Some(ProducerIdBlock { first: 1_005 }),
            "a lost counter starts above the ids in use"
        );
        assert_eq!(
            ProducerIdCounter::starting_at(3_000)
                .above(Some(5))
                .next_block_start(),
            3_000
        );
    }
}

package org.mla4j.serve;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.mla4j.BatchContext;
import org.mla4j.Model;

/**
 * A {@link SlotBackend} on one {@link BatchContext}: each slot is a sequence of the batch, and a step's work items
 * (the generating slots' last tokens and a prompt chunk) run as the rows of one batched forward pass, so each weight
 * row is read once per step for all slots. The cache is the batch's block pool: a slot holds blocks for the positions
 * it uses, a request whose prompt starts like a cached one (another slot's system prompt, an earlier turn) starts from
 * the shared blocks, an idle slot holds no block, and the logits equal a single session's within float rounding (native test_batch: 1e-4).
 */
final class BatchSlots implements SlotBackend {
    private final BatchContext batch;
    private final int[] ids;
    private final long bytesPerToken;

    BatchSlots(Model model, int slots, BatchContext.Options options) {
        batch = model.newBatchContext(options);
        ids = new int[slots];
        try {
            for (int i = 0; i < slots; i++) ids[i] = batch.add().id();
        } catch (RuntimeException e) {
            batch.close();
            throw e;
        }
        bytesPerToken = model.kvBytesPerToken(options.kvType());
    }

    @Override
    public int slots() {
        return ids.length;
    }

    @Override
    public int contextSize() {
        return batch.contextSize();
    }

    @Override
    public void truncate(int slot, int position) {
        batch.truncate(ids[slot], position);
    }

    /**
     * Starts the slot's sequence afresh on the prompt: the pool's cached blocks that hold its first tokens (written by
     * any slot: a shared system prompt, an earlier turn of the conversation) are reused; keep (the slot's own prefix)
     * is not needed, since {@link #end} left the slot's full blocks in that cache.
     */
    @Override
    public int begin(int slot, int keep, int[] prompt) {
        batch.remove(ids[slot]);
        BatchContext.Sequence s;
        try {
            s = batch.add(prompt);
        } catch (RuntimeException e) {
            ids[slot] = batch.add().id(); // the slot keeps a (empty) sequence for its next request
            throw e;
        }
        ids[slot] = s.id();
        return s.cachedTokens();
    }

    /** Gives the slot's blocks back when its request ends: full ones stay cached for later prompts, none stay used. */
    @Override
    public void end(int slot) {
        batch.truncate(ids[slot], 0);
    }

    @Override
    public List<Result> eval(List<Work> work) {
        int n = 0;
        for (Work w : work) n += w.tokens().length;
        int[] seq = new int[n], pos = new int[n], tok = new int[n];
        int[] last = new int[work.size()];
        int r = 0;
        for (int i = 0; i < work.size(); i++) {
            Work w = work.get(i);
            int id = ids[w.slot()], p = batch.position(id);
            for (int t : w.tokens()) {
                seq[r] = id;
                pos[r] = p++;
                tok[r++] = t;
            }
            last[i] = r - 1;
        }
        batch.withdrawCancel(); // a cancel that arrived after the previous step had ended
        try {
            batch.decode(seq, pos, tok, null);
        } catch (RuntimeException e) {
            return Collections.nCopies(work.size(), new Result(null, e));
        }
        List<Result> out = new ArrayList<>(work.size());
        for (int i = 0; i < work.size(); i++) out.add(new Result(batch.logits(last[i]), null));
        return out;
    }

    @Override
    public void cancelRunning() {
        batch.cancel();
    }

    @Override
    public long bytesPerToken() {
        return bytesPerToken;
    }

    @Override
    public long bytesAllocated() {
        if (batch.isClosed()) return 0;
        BatchContext.Stats s = batch.stats();
        return (long) s.blocksTotal() * s.blockBytes();
    }

    @Override
    public int[] blocks() {
        if (batch.isClosed()) return new int[] {0, 0, 0};
        BatchContext.Stats s = batch.stats();
        return new int[] {s.blocksUsed(), s.blocksTotal(), s.blocksCached()};
    }

    @Override
    public void close() {
        batch.close();
    }
}

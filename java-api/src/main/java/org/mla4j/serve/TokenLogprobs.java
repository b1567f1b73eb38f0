package org.mla4j.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/** Log-probabilities from raw logits: log softmax in double precision, and the n most likely tokens. */
final class TokenLogprobs {
    private TokenLogprobs() {
    }

    /** The token's log-probability and the top n alternatives (ties: lowest id first). */
    static GeneratedToken of(int id, String text, float[] logits, int topN) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        double logZ = max + Math.log(sum);
        List<GeneratedToken.Alternative> top = new ArrayList<>();
        if (topN > 0) {
            int n = Math.min(topN, logits.length);
            // Min-heap of the best n so far: the root is the worst kept (smallest logit, then largest id).
            PriorityQueue<Integer> heap = new PriorityQueue<>(n + 1, (a, b) -> logits[a] != logits[b]
                    ? Float.compare(logits[a], logits[b]) : Integer.compare(b, a));
            for (int i = 0; i < logits.length; i++) {
                heap.add(i);
                if (heap.size() > n) heap.poll();
            }
            while (!heap.isEmpty()) {
                int i = heap.poll();
                top.addFirst(new GeneratedToken.Alternative(i, (float) (logits[i] - logZ)));
            }
        }
        return new GeneratedToken(id, text, (float) (logits[id] - logZ), top);
    }
}

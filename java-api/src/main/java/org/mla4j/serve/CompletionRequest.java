package org.mla4j.serve;

import java.util.List;
import java.util.Objects;

import org.mla4j.sampling.SamplerConfig;

/**
 * One generation for a {@link BatchScheduler}: prompt tokens, how many tokens to generate at most, sampling, stop
 * strings and log-probabilities. Build it from API parameters with {@link CompletionRequests}, which checks them.
 *
 * @param prompt the prompt's token ids (BOS and template tokens included), at least one
 * @param maxTokens tokens to generate at most (the reply may end earlier: end of generation, a stop string, a full
 *     context)
 * @param sampler sampling settings (temperature 0 = greedy)
 * @param stop texts that end the reply when generated; the reply stops before them and does not contain them
 * @param topLogprobs -1: no log-probabilities; 0: the log-probability of each generated token; n &gt; 0: also the n
 *     most likely tokens at each position
 * @param cachePrompt let the scheduler reuse a slot whose cache already holds a prefix of the prompt (as
 *     llama-server's cache_prompt); the logits then come from a differently batched evaluation (same within float
 *     tolerance)
 * @param ignoreEos keep generating after end-of-generation tokens (llama-server's ignore_eos, for benchmarks)
 */
public record CompletionRequest(int[] prompt, int maxTokens, SamplerConfig sampler, List<String> stop,
        int topLogprobs, boolean cachePrompt, boolean ignoreEos) {

    /**
     * Checks the request and copies the prompt and the stop strings.
     *
     * @throws NullPointerException if prompt, sampler or stop is null
     * @throws IllegalArgumentException for an empty prompt, maxTokens &lt; 0, topLogprobs &lt; -1 or an empty stop
     *     string
     */
    public CompletionRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampler, "sampler");
        stop = List.copyOf(stop);
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens)");
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        if (topLogprobs < -1) throw new IllegalArgumentException("topLogprobs must be >= -1, got " + topLogprobs);
        for (String s : stop) {
            if (s.isEmpty()) throw new IllegalArgumentException("a stop string is empty");
        }
        prompt = prompt.clone();
    }

    /**
     * {@return greedy generation of at most maxTokens tokens, no stop strings, no log-probabilities, the prompt
     * cache used}
     *
     * @param prompt the prompt's token ids, at least one (copied)
     * @param maxTokens tokens to generate at most, 0 or more
     */
    public static CompletionRequest greedy(int[] prompt, int maxTokens) {
        return new CompletionRequest(prompt, maxTokens, SamplerConfig.greedy(), List.of(), -1, true, false);
    }

    /** {@return a copy of the prompt's token ids} */
    @Override
    public int[] prompt() {
        return prompt.clone();
    }

    int promptLength() {
        return prompt.length;
    }

    int promptToken(int i) {
        return prompt[i];
    }
}

package org.mla4j.serve;

/**
 * How a completion ended, with its token counts.
 *
 * @param finishReason why it ended
 * @param promptTokens tokens of the prompt
 * @param cachedPromptTokens prompt tokens the slot's cache already held (not evaluated again)
 * @param completionTokens generated tokens (an end-of-generation token is not counted, as llama-server does)
 * @param queueNanos time spent waiting for a slot
 * @param promptNanos time from taking a slot to the first token's logits
 * @param generationNanos time from the first token's logits to the end
 */
public record CompletionResult(FinishReason finishReason, int promptTokens, int cachedPromptTokens,
        int completionTokens, long queueNanos, long promptNanos, long generationNanos) {
}

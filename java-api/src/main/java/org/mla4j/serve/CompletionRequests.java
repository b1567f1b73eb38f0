package org.mla4j.serve;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import org.mla4j.Model;
import org.mla4j.chat.ChatFormat;
import org.mla4j.chat.ChatMessage;
import org.mla4j.chat.ChatTemplate;
import org.mla4j.chat.ChatTemplateException;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.tokenizer.Tokenizer;

/**
 * The request-to-generation code shared by the HTTP server and the LangChain4j models: a conversation or a text
 * becomes prompt tokens, API parameters (OpenAI's names, llama.cpp's defaults for what is left out) become a checked
 * {@link CompletionRequest}. Problems are {@link InvalidRequestException}s naming the parameter.
 */
public final class CompletionRequests {
    /** Stop strings a request may give, and their length: the matcher scans them at every token. */
    public static final int MAX_STOP_STRINGS = 16;
    /** Characters a stop string may have at most. */
    public static final int MAX_STOP_LENGTH = 512;
    /** Alternatives per position a request may ask for (OpenAI allows 20). */
    public static final int MAX_TOP_LOGPROBS = 20;

    private CompletionRequests() {
    }

    /**
     * Generation parameters as an API gives them; null means "not given" (llama.cpp's default applies).
     *
     * @param maxTokens tokens to generate at most; null: until the end of generation or the context is full
     * @param temperature 0 = greedy
     * @param topP nucleus sampling, (0, 1]
     * @param topK 0 = off
     * @param minP [0, 1]
     * @param repeatPenalty 1 = off (llama.cpp's repeat_penalty)
     * @param seed null: a random seed per request
     * @param stop stop strings (none: empty list)
     * @param topLogprobs null: no log-probabilities; n: the token's and n alternatives
     * @param cachePrompt reuse a slot's cached prompt prefix
     * @param ignoreEos generate past end-of-generation tokens (benchmarks)
     */
    public record Params(Integer maxTokens, Double temperature, Double topP, Integer topK, Double minP,
            Double repeatPenalty, Long seed, List<String> stop, Integer topLogprobs, boolean cachePrompt,
            boolean ignoreEos) {
        /** Copies the stop strings; a null list is taken as none. */
        public Params {
            stop = stop == null ? List.of() : List.copyOf(stop);
        }

        /** {@return nothing given: llama.cpp's defaults, no stop strings, the prompt cache used, EOS honoured} */
        public static Params defaults() {
            return new Params(null, null, null, null, null, null, null, List.of(), null, true, false);
        }
    }

    /**
     * {@return the model's chat format: its chat template, or the plain fallback for models without one}
     *
     * @param model the loaded model, whose GGUF metadata holds the template
     */
    public static ChatFormat chatFormat(Model model) {
        return ChatFormat.of(ChatTemplate.fromMetadata(model.gguf()), model.tokenizer());
    }

    /**
     * {@return a conversation's prompt tokens, ending with the header of the assistant's reply}
     *
     * @param format the model's chat format (see {@link #chatFormat})
     * @param messages the conversation, at least one message
     * @throws InvalidRequestException naming "messages" when there are none or the template rejects them
     */
    public static int[] chatPrompt(ChatFormat format, List<ChatMessage> messages) {
        if (messages.isEmpty()) throw new InvalidRequestException("messages", null, "messages must not be empty");
        try {
            return format.tokens(messages, true);
        } catch (ChatTemplateException e) {
            throw new InvalidRequestException("messages", null, e.getMessage());
        }
    }

    /**
     * {@return a text prompt's tokens: BOS as the vocabulary asks, special-token text recognised (as llama-server
     * does)}
     *
     * @param tokenizer the model's tokenizer
     * @param text the prompt
     * @throws InvalidRequestException naming "prompt" when the text gives no tokens
     */
    public static int[] textPrompt(Tokenizer tokenizer, String text) {
        int[] ids = tokenizer.encode(text, true, true);
        if (ids.length == 0) throw new InvalidRequestException("prompt", null, "the prompt is empty");
        return ids;
    }

    /**
     * {@return a checked request: parameters left out take llama.cpp's defaults, a missing maxTokens the room left
     * in the context (at most maxTokensLimit), a missing seed a random one}
     *
     * @param prompt the prompt's token ids
     * @param p the API's parameters
     * @param promptParam the parameter that holds the prompt ("messages" or "prompt"), for errors
     * @param contextSize positions of a slot's context
     * @param maxTokensLimit the most tokens a request may ask for
     * @throws InvalidRequestException for an empty prompt, a prompt of contextSize tokens or more
     *     ("context_length_exceeded"), or a parameter out of range ("invalid_value", naming it)
     */
    public static CompletionRequest build(int[] prompt, Params p, String promptParam, int contextSize,
            int maxTokensLimit) {
        if (prompt.length == 0) throw new InvalidRequestException(promptParam, null, "the prompt is empty");
        if (prompt.length >= contextSize) {
            throw new InvalidRequestException(promptParam, "context_length_exceeded", "This model's maximum context "
                    + "length is " + contextSize + " tokens. However, your " + promptParam + " resulted in "
                    + prompt.length + " tokens. Please reduce the length of the " + promptParam + ".");
        }
        int maxTokens;
        if (p.maxTokens() == null) {
            maxTokens = Math.min(maxTokensLimit, contextSize - prompt.length);
        } else {
            maxTokens = p.maxTokens();
            if (maxTokens < 1) throw new InvalidRequestException("max_tokens", "invalid_value",
                    "max_tokens must be at least 1, got " + maxTokens);
            if (maxTokens > maxTokensLimit) throw new InvalidRequestException("max_tokens", "invalid_value",
                    "max_tokens is " + maxTokens + "; this server allows at most " + maxTokensLimit);
        }
        double temperature = orDefault(p.temperature(), SamplerConfig.DEFAULT_TEMPERATURE);
        check(Double.isFinite(temperature) && temperature >= 0, "temperature", "temperature must be >= 0, got "
                + temperature);
        double topP = orDefault(p.topP(), SamplerConfig.DEFAULT_TOP_P);
        check(topP > 0 && topP <= 1, "top_p", "top_p must be in (0, 1], got " + topP);
        int topK = p.topK() == null ? SamplerConfig.DEFAULT_TOP_K : p.topK();
        check(topK >= 0, "top_k", "top_k must be >= 0 (0 = off), got " + topK);
        double minP = orDefault(p.minP(), SamplerConfig.DEFAULT_MIN_P);
        check(minP >= 0 && minP <= 1, "min_p", "min_p must be in [0, 1], got " + minP);
        double penalty = orDefault(p.repeatPenalty(), SamplerConfig.DEFAULT_REPEAT_PENALTY);
        check(Double.isFinite(penalty) && penalty > 0, "repeat_penalty", "repeat_penalty must be > 0, got " + penalty);
        long seed = p.seed() == null ? ThreadLocalRandom.current().nextLong() : p.seed();
        check(p.stop().size() <= MAX_STOP_STRINGS, "stop", "at most " + MAX_STOP_STRINGS + " stop strings, got "
                + p.stop().size());
        for (String s : p.stop()) {
            check(!s.isEmpty(), "stop", "a stop string is empty");
            check(s.length() <= MAX_STOP_LENGTH, "stop", "a stop string is longer than " + MAX_STOP_LENGTH
                    + " characters");
        }
        int top = -1;
        if (p.topLogprobs() != null) {
            top = p.topLogprobs();
            check(top >= 0 && top <= MAX_TOP_LOGPROBS, "top_logprobs", "top_logprobs must be in [0, "
                    + MAX_TOP_LOGPROBS + "], got " + top);
        }
        SamplerConfig sampler = new SamplerConfig((float) temperature, topK, (float) topP, (float) minP,
                (float) penalty, SamplerConfig.DEFAULT_REPEAT_LAST_N, seed);
        return new CompletionRequest(prompt, maxTokens, sampler, p.stop(), top, p.cachePrompt(), p.ignoreEos());
    }

    private static double orDefault(Double v, double d) {
        return v == null ? d : v;
    }

    private static void check(boolean ok, String param, String message) {
        if (!ok) throw new InvalidRequestException(param, "invalid_value", message);
    }
}

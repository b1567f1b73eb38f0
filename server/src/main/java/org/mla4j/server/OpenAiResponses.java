package org.mla4j.server;

import java.nio.charset.StandardCharsets;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.mla4j.serve.CompletionResult;
import org.mla4j.serve.GeneratedToken;
import org.mla4j.tokenizer.Tokenizer;

/**
 * The JSON objects of OpenAI's API: chat.completion, chat.completion.chunk, text_completion (whole and streamed),
 * usage, log-probabilities and errors. One instance per response (it carries the response's id and model name).
 */
final class OpenAiResponses {
    static final ObjectMapper JSON = new ObjectMapper();

    private final boolean chat;
    private final String id;
    private final long created;
    private final String model;
    private final Tokenizer tokenizer;

    OpenAiResponses(boolean chat, String id, String model, Tokenizer tokenizer) {
        this.chat = chat;
        this.id = id;
        this.created = System.currentTimeMillis() / 1000;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** The whole response of a non-streamed request. */
    ObjectNode complete(String text, List<GeneratedToken> tokens, CompletionResult r, boolean logprobs) {
        ObjectNode o = header(chat ? "chat.completion" : "text_completion");
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) {
            ObjectNode msg = choice.putObject("message");
            msg.put("role", "assistant");
            msg.put("content", text);
        } else {
            choice.put("text", text);
        }
        if (logprobs) choice.set("logprobs", logprobs(tokens));
        else choice.putNull("logprobs");
        choice.put("finish_reason", r.finishReason().openAiName());
        o.set("usage", usage(r));
        return o;
    }

    /** The first chunk of a streamed chat reply: the assistant's role and no text, as OpenAI sends it. */
    ObjectNode roleChunk(boolean withUsageField) {
        ObjectNode o = header("chat.completion.chunk");
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        delta.put("role", "assistant");
        delta.put("content", "");
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        if (withUsageField) o.putNull("usage");
        return o;
    }

    /** A chunk with one token's text (and its log-probabilities when asked for). */
    ObjectNode tokenChunk(GeneratedToken t, boolean logprobs, boolean withUsageField) {
        ObjectNode o = header(chat ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) choice.putObject("delta").put("content", t.text());
        else choice.put("text", t.text());
        if (logprobs) choice.set("logprobs", logprobs(List.of(t)));
        else choice.putNull("logprobs");
        choice.putNull("finish_reason");
        if (withUsageField) o.putNull("usage");
        return o;
    }

    /** The chunk that carries the finish reason. */
    ObjectNode finishChunk(CompletionResult r, boolean withUsageField) {
        ObjectNode o = header(chat ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) choice.putObject("delta");
        else choice.put("text", "");
        choice.putNull("logprobs");
        choice.put("finish_reason", r.finishReason().openAiName());
        if (withUsageField) o.putNull("usage");
        return o;
    }

    /** The last chunk when stream_options.include_usage is set: no choices, the usage. */
    ObjectNode usageChunk(CompletionResult r) {
        ObjectNode o = header(chat ? "chat.completion.chunk" : "text_completion");
        o.putArray("choices");
        o.set("usage", usage(r));
        return o;
    }

    static ObjectNode usage(CompletionResult r) {
        ObjectNode u = JSON.createObjectNode();
        u.put("prompt_tokens", r.promptTokens());
        u.put("completion_tokens", r.completionTokens());
        u.put("total_tokens", r.promptTokens() + r.completionTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", r.cachedPromptTokens());
        return u;
    }

    /** Chat: {"content": [{token, logprob, bytes, top_logprobs}]}; completions: the legacy parallel arrays. */
    private ObjectNode logprobs(List<GeneratedToken> tokens) {
        ObjectNode lp = JSON.createObjectNode();
        if (chat) {
            ArrayNode content = lp.putArray("content");
            for (GeneratedToken t : tokens) {
                ObjectNode e = entry(t.id(), t.logprob());
                ArrayNode top = e.putArray("top_logprobs");
                for (GeneratedToken.Alternative a : t.top()) top.add(entry(a.id(), a.logprob()));
                content.add(e);
            }
        } else {
            ArrayNode toks = lp.putArray("tokens");
            ArrayNode values = lp.putArray("token_logprobs");
            ArrayNode tops = lp.putArray("top_logprobs");
            ArrayNode offsets = lp.putArray("text_offset");
            int offset = 0;
            for (GeneratedToken t : tokens) {
                toks.add(tokenizer.piece(t.id()));
                values.add(t.logprob());
                ObjectNode top = tops.addObject();
                for (GeneratedToken.Alternative a : t.top()) top.put(tokenizer.piece(a.id()), a.logprob());
                offsets.add(offset);
                offset += t.text().length();
            }
        }
        return lp;
    }

    private ObjectNode entry(int tokenId, float logprob) {
        ObjectNode e = JSON.createObjectNode();
        byte[] bytes = tokenizer.pieceBytes(tokenId, true);
        e.put("token", new String(bytes, StandardCharsets.UTF_8));
        e.put("logprob", logprob);
        ArrayNode b = e.putArray("bytes");
        for (byte x : bytes) b.add(x & 0xFF);
        return e;
    }

    private ObjectNode header(String object) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        o.put("system_fingerprint", "mla4j");
        return o;
    }

    /** OpenAI's error object. */
    static ObjectNode error(String message, String type, String param, String code) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode e = o.putObject("error");
        e.put("message", message);
        e.put("type", type);
        if (param == null) e.putNull("param");
        else e.put("param", param);
        if (code == null) e.putNull("code");
        else e.put("code", code);
        return o;
    }
}

package org.mla4j.server;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import org.mla4j.chat.ChatMessage;
import org.mla4j.serve.CompletionRequests;

/**
 * The fields of a /v1/chat/completions or /v1/completions body, type-checked. Features this server does not have
 * (n &gt; 1, tools, JSON mode, penalties other than repeat_penalty, echo, suffix) are refused with a 400 rather than
 * silently ignored.
 *
 * @param messages the conversation (chat) or null
 * @param textPrompt the prompt text (completions) or null
 * @param tokenPrompt the prompt as token ids (completions) or null
 */
record ParsedRequest(List<ChatMessage> messages, String textPrompt, int[] tokenPrompt,
        CompletionRequests.Params params, boolean stream, boolean includeUsage) {

    static ParsedRequest chat(JsonNode body) {
        JsonFields f = new JsonFields(body);
        JsonNode m = f.node("messages");
        if (m == null) throw ApiException.invalid("messages", "missing_required_parameter",
                "Missing required parameter: 'messages'.");
        if (!m.isArray()) throw ApiException.wrongType("messages", "an array");
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) messages.add(message(m.get(i), "messages[" + i + "]"));
        if (messages.isEmpty()) throw ApiException.invalid("messages", "invalid_value", "'messages' must not be empty.");
        JsonNode tools = f.node("tools");
        if (tools != null && (!tools.isArray() || !tools.isEmpty())) {
            throw ApiException.invalid("tools", "unsupported_parameter", "tools are not supported by this server.");
        }
        JsonFields format = f.object("response_format");
        if (format != null && format.string("type") != null && !format.string("type").equals("text")) {
            throw ApiException.invalid("response_format", "unsupported_parameter",
                    "response_format '" + format.string("type") + "' is not supported; only 'text'.");
        }
        Integer maxTokens = f.integer("max_completion_tokens");
        if (maxTokens == null) maxTokens = f.integer("max_tokens");
        Integer top = null;
        Boolean logprobs = f.bool("logprobs");
        Integer topLogprobs = f.integer("top_logprobs");
        if (Boolean.TRUE.equals(logprobs)) top = topLogprobs == null ? 0 : topLogprobs;
        else if (topLogprobs != null) throw ApiException.invalid("top_logprobs", "invalid_value",
                "'top_logprobs' needs 'logprobs' set to true.");
        return common(f, null, null, messages, maxTokens, top);
    }

    static ParsedRequest completion(JsonNode body) {
        JsonFields f = new JsonFields(body);
        JsonNode p = f.node("prompt");
        if (p == null) throw ApiException.invalid("prompt", "missing_required_parameter",
                "Missing required parameter: 'prompt'.");
        String text = null;
        int[] tokens = null;
        if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) p = p.get(0); // one prompt
        if (p.isTextual()) {
            text = p.textValue();
        } else if (p.isArray()) {
            tokens = new int[p.size()];
            for (int i = 0; i < p.size(); i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || !t.canConvertToInt()) {
                    throw ApiException.wrongType("prompt", "a string, an array of token ids, or one of either");
                }
                tokens[i] = t.intValue();
            }
        } else {
            throw ApiException.wrongType("prompt", "a string, an array of token ids, or one of either");
        }
        if (Boolean.TRUE.equals(f.bool("echo"))) throw ApiException.invalid("echo", "unsupported_parameter",
                "echo is not supported by this server.");
        if (f.string("suffix") != null) throw ApiException.invalid("suffix", "unsupported_parameter",
                "suffix is not supported by this server.");
        Integer bestOf = f.integer("best_of");
        if (bestOf != null && bestOf != 1) throw ApiException.invalid("best_of", "unsupported_parameter",
                "best_of must be 1 on this server.");
        Integer logprobs = f.integer("logprobs");
        if (logprobs != null && (logprobs < 0 || logprobs > 5)) throw ApiException.invalid("logprobs",
                "invalid_value", "'logprobs' must be in [0, 5], got " + logprobs + ".");
        return common(f, text, tokens, null, f.integer("max_tokens"), logprobs);
    }

    private static ParsedRequest common(JsonFields f, String text, int[] tokens, List<ChatMessage> messages,
            Integer maxTokens, Integer topLogprobs) {
        Integer n = f.integer("n");
        if (n != null && n != 1) throw ApiException.invalid("n", "unsupported_parameter",
                "n must be 1 on this server (one choice per request).");
        for (String penalty : new String[] {"presence_penalty", "frequency_penalty"}) {
            Double v = f.number(penalty);
            if (v != null && v != 0) throw ApiException.invalid(penalty, "unsupported_parameter",
                    penalty + " is not supported by this server (use repeat_penalty).");
        }
        boolean stream = Boolean.TRUE.equals(f.bool("stream"));
        JsonFields so = f.object("stream_options");
        boolean usage = so != null && Boolean.TRUE.equals(so.bool("include_usage"));
        Boolean cachePrompt = f.bool("cache_prompt");
        CompletionRequests.Params params = new CompletionRequests.Params(maxTokens, f.number("temperature"),
                f.number("top_p"), f.integer("top_k"), f.number("min_p"), f.number("repeat_penalty"),
                f.longValue("seed"), f.stringOrStrings("stop"), topLogprobs, cachePrompt == null || cachePrompt,
                Boolean.TRUE.equals(f.bool("ignore_eos")));
        return new ParsedRequest(messages, text, tokens, params, stream, usage);
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (m == null || !m.isObject()) throw ApiException.wrongType(where, "an object with 'role' and 'content'");
        JsonFields f = new JsonFields(m);
        String role = f.string("role");
        if (role == null) throw ApiException.invalid(where + ".role", "missing_required_parameter",
                "Missing required parameter: '" + where + ".role'.");
        role = switch (role) {
            case "system", "user", "assistant" -> role;
            case "developer" -> "system"; // OpenAI's newer name for the system role
            default -> throw ApiException.invalid(where + ".role", "invalid_value", "Unsupported role '" + role
                    + "' (supported: system, developer, user, assistant).");
        };
        JsonNode c = f.node("content");
        String content;
        if (c == null) {
            content = "";
        } else if (c.isTextual()) {
            content = c.textValue();
        } else if (c.isArray()) {
            // Content parts: only text parts, concatenated.
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(where + ".content", "unsupported_content",
                            "Only text content parts are supported.");
                }
                sb.append(part.get("text").textValue());
            }
            content = sb.toString();
        } else {
            throw ApiException.wrongType(where + ".content", "a string or an array of content parts");
        }
        return new ChatMessage(role, content);
    }
}

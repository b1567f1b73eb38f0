package org.mla4j.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import org.mla4j.serve.BatchScheduler;
import org.mla4j.serve.CompletionRequest;
import org.mla4j.serve.CompletionRequests;
import org.mla4j.serve.CompletionResult;
import org.mla4j.serve.FinishReason;
import org.mla4j.serve.GeneratedToken;
import org.mla4j.serve.InvalidRequestException;
import org.mla4j.serve.QueueFullException;
import org.mla4j.serve.SchedulerClosedException;
import org.mla4j.serve.TokenStream;
import org.mla4j.tokenizer.Tokenizer;

/** The server's endpoints. Each handler runs on its own virtual thread and may block. */
final class Endpoints {
    /** A streamed response that sends nothing for this long sends an SSE comment, which also detects a gone client. */
    private static final long KEEP_ALIVE_MS = 1000;

    private final Mla4jServer server;

    Endpoints(Mla4jServer server) {
        this.server = server;
    }

    // ---------------------------------------------------------------- generation

    void completions(ServerRequest req, ServerResponse res, boolean chat) {
        JsonNode body = server.readJson(req);
        ParsedRequest parsed = chat ? ParsedRequest.chat(body) : ParsedRequest.completion(body);
        Mla4jServer.Loaded l = server.ready();
        BatchScheduler scheduler = l.scheduler();
        TokenStream stream;
        try {
            int[] prompt = chat ? CompletionRequests.chatPrompt(l.chatFormat(), parsed.messages())
                    : parsed.tokenPrompt() != null ? parsed.tokenPrompt()
                    : CompletionRequests.textPrompt(scheduler.tokenizer(), parsed.textPrompt());
            CompletionRequest request = CompletionRequests.build(prompt, parsed.params(), chat ? "messages" : "prompt",
                    scheduler.contextSize(), l.maxTokens());
            stream = scheduler.stream(request);
        } catch (InvalidRequestException e) {
            throw ApiException.invalid(e.param(), e.code(), e.getMessage());
        } catch (QueueFullException e) {
            throw new ApiException(429, "requests", null, "rate_limit_exceeded", e.getMessage());
        } catch (SchedulerClosedException e) {
            throw new ApiException(503, "server_error", null, "server_shutting_down", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(chat ? "messages" : "prompt", "invalid_value", e.getMessage());
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        OpenAiResponses out = new OpenAiResponses(chat, id, l.modelName(), scheduler.tokenizer());
        boolean logprobs = parsed.params().topLogprobs() != null;
        if (parsed.stream()) {
            stream(res, stream, out, chat, logprobs, parsed.includeUsage());
        } else {
            whole(res, stream, out, logprobs);
        }
    }

    private void whole(ServerResponse res, TokenStream stream, OpenAiResponses out, boolean logprobs) {
        TokenStream.Completion c;
        try {
            c = stream.collect();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", null, "server_shutting_down", "Interrupted.");
        } catch (RuntimeException e) {
            throw new ApiException(500, "server_error", null, null, "Generation failed: " + e.getMessage());
        }
        if (c.result().finishReason() == FinishReason.CANCELLED) {
            throw new ApiException(503, "server_error", null, "server_shutting_down",
                    "The request was cancelled: the server is shutting down.");
        }
        server.sendJson(res, 200, out.complete(c.text(), c.tokens(), c.result(), logprobs));
    }

    /**
     * Server-Sent Events in OpenAI's chunk format, ending with "data: [DONE]". A write that fails (the client went
     * away) cancels the generation, which frees its slot at the engine's next step.
     */
    private void stream(ServerResponse res, TokenStream stream, OpenAiResponses out, boolean chat, boolean logprobs,
            boolean includeUsage) {
        boolean finished = false;
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        res.header(HeaderNames.CACHE_CONTROL, "no-cache");
        try (OutputStream os = res.outputStream()) {
            if (chat) event(os, out.roleChunk(includeUsage));
            while (!finished) {
                TokenStream.Event e = stream.poll(KEEP_ALIVE_MS, TimeUnit.MILLISECONDS);
                switch (e) {
                    case null -> {
                        os.write(": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII));
                        os.flush();
                    }
                    case TokenStream.Started s -> { }
                    case TokenStream.Token t -> {
                        GeneratedToken g = t.token();
                        if (!g.text().isEmpty() || logprobs) event(os, out.tokenChunk(g, logprobs, includeUsage));
                    }
                    case TokenStream.Finished f -> {
                        finished = true;
                        CompletionResult r = f.result();
                        if (r.finishReason() == FinishReason.CANCELLED) {
                            event(os, OpenAiResponses.error("The request was cancelled: the server is shutting down.",
                                    "server_error", null, "server_shutting_down"));
                        } else {
                            event(os, out.finishChunk(r, includeUsage));
                            if (includeUsage) event(os, out.usageChunk(r));
                        }
                        done(os);
                    }
                    case TokenStream.Failed f -> {
                        finished = true;
                        event(os, OpenAiResponses.error("Generation failed: " + f.error().getMessage(), "server_error",
                                null, null));
                        done(os);
                    }
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // the client is gone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // Helidon reports a closed connection with its own runtime exceptions
        } finally {
            if (!finished) stream.cancel();
        }
    }

    private void event(OutputStream os, ObjectNode node) throws IOException {
        os.write("data: ".getBytes(StandardCharsets.US_ASCII));
        os.write(server.json().writeValueAsBytes(node));
        os.write("\n\n".getBytes(StandardCharsets.US_ASCII));
        os.flush();
    }

    private static void done(OutputStream os) throws IOException {
        os.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
        os.flush();
    }

    // ---------------------------------------------------------------- information

    void models(ServerRequest req, ServerResponse res) {
        Mla4jServer.Loaded l = server.ready();
        ObjectNode o = server.json().createObjectNode();
        o.put("object", "list");
        ObjectNode m = o.putArray("data").addObject();
        m.put("id", l.modelName());
        m.put("object", "model");
        m.put("created", l.model().path().toFile().lastModified() / 1000);
        m.put("owned_by", "mla4j");
        ObjectNode meta = m.putObject("meta");
        meta.put("architecture", l.model().hparams().architecture());
        meta.put("n_vocab", l.model().hparams().vocabSize());
        meta.put("n_ctx_train", l.model().hparams().contextLength());
        meta.put("n_ctx_slot", l.scheduler().contextSize());
        meta.put("slots", l.scheduler().slots());
        meta.put("mla", l.model().mla().isPresent());
        server.sendJson(res, 200, o);
    }

    /** llama-server's /health: 503 with an error while the model loads, then {"status": "ok"}. */
    void health(ServerRequest req, ServerResponse res) {
        if (server.loadedOrNull() == null || server.stopping()) {
            RuntimeException err = server.loadError();
            if (err != null) {
                server.sendJson(res, 500, OpenAiResponses.error("The model failed to load: " + err.getMessage(),
                        "server_error", null, "model_load_failed"));
            } else {
                server.sendJson(res, 503, OpenAiResponses.error(server.stopping() ? "Shutting down" : "Loading model",
                        "unavailable_error", null, null));
            }
            return;
        }
        ObjectNode o = server.json().createObjectNode();
        o.put("status", "ok");
        server.sendJson(res, 200, o);
    }

    /** Prometheus text format. */
    void metrics(ServerRequest req, ServerResponse res) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String[], Long> e : server.httpMetrics().snapshot().entrySet()) {
            if (sb.isEmpty()) {
                sb.append("# HELP mla4j_http_requests_total HTTP requests by endpoint and status.\n");
                sb.append("# TYPE mla4j_http_requests_total counter\n");
            }
            sb.append("mla4j_http_requests_total{endpoint=\"").append(e.getKey()[0]).append("\",status=\"")
                    .append(e.getKey()[1]).append("\"} ").append(e.getValue()).append('\n');
        }
        Mla4jServer.Loaded l = server.loadedOrNull();
        gauge(sb, "mla4j_model_loaded", "1 once the model is loaded.", l != null ? 1 : 0);
        if (l != null) {
            BatchScheduler.Stats s = l.scheduler().stats();
            counter(sb, "mla4j_requests_total", "Generation requests accepted.", s.requestsTotal());
            counter(sb, "mla4j_requests_rejected_total", "Generation requests refused because the queue was full.",
                    s.requestsRejected());
            sb.append("# HELP mla4j_requests_finished_total Generation requests finished, by reason.\n");
            sb.append("# TYPE mla4j_requests_finished_total counter\n");
            s.finished().forEach((reason, n) -> sb.append("mla4j_requests_finished_total{reason=\"")
                    .append(reason.name().toLowerCase(Locale.ROOT)).append("\"} ").append(n).append('\n'));
            counter(sb, "mla4j_requests_failed_total", "Generation requests that failed.", s.failed());
            counter(sb, "mla4j_prompt_tokens_total", "Prompt tokens evaluated.", s.promptTokensTotal());
            counter(sb, "mla4j_prompt_tokens_cached_total", "Prompt tokens reused from a slot's cache.",
                    s.cachedPromptTokensTotal());
            counter(sb, "mla4j_tokens_generated_total", "Tokens generated.", s.generatedTokensTotal());
            gauge(sb, "mla4j_requests_queued", "Requests waiting for a slot.", s.queued());
            gauge(sb, "mla4j_requests_running", "Requests being generated.", s.busySlots());
            gauge(sb, "mla4j_slots_total", "Slots (requests generated at once).", s.slots());
            gauge(sb, "mla4j_slots_busy", "Slots serving a request.", s.busySlots());
            gauge(sb, "mla4j_kv_cache_tokens_used", "Cache positions held by running requests.", s.cacheTokensUsed());
            gauge(sb, "mla4j_kv_cache_bytes_used", "Cache bytes held by running requests.", s.cacheBytesUsed());
            gauge(sb, "mla4j_kv_cache_bytes_allocated", "Cache bytes allocated for all slots.",
                    s.cacheBytesAllocated());
            gauge(sb, "mla4j_kv_cache_bytes_per_token", "Cache bytes per token (all layers).", s.bytesPerToken());
            gauge(sb, "mla4j_kv_cache_blocks_used", "Cache blocks held by running requests.", s.cacheBlocksUsed());
            gauge(sb, "mla4j_kv_cache_blocks_total", "Cache blocks in the pool.", s.cacheBlocksTotal());
            gauge(sb, "mla4j_kv_cache_blocks_cached", "Cache blocks held by no request, kept for prompts that start alike.",
                    s.cacheBlocksCached());
        }
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        res.send(sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void counter(StringBuilder sb, String name, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder sb, String name, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(v).append('\n');
    }

    // ---------------------------------------------------------------- tokenizer (llama-server's shapes)

    /** {"content", "add_special" (false), "parse_special" (true), "with_pieces" (false)} to {"tokens": [...]}. */
    void tokenize(ServerRequest req, ServerResponse res) {
        JsonFields f = new JsonFields(server.readJson(req));
        String content = f.string("content");
        if (content == null) throw ApiException.invalid("content", "missing_required_parameter",
                "Missing required parameter: 'content'.");
        boolean addSpecial = Boolean.TRUE.equals(f.bool("add_special"));
        Boolean ps = f.bool("parse_special");
        boolean withPieces = Boolean.TRUE.equals(f.bool("with_pieces"));
        Tokenizer t = server.ready().scheduler().tokenizer();
        int[] ids = t.encode(content, addSpecial, ps == null || ps);
        ObjectNode o = server.json().createObjectNode();
        ArrayNode tokens = o.putArray("tokens");
        for (int id : ids) {
            if (!withPieces) {
                tokens.add(id);
                continue;
            }
            ObjectNode e = tokens.addObject();
            e.put("id", id);
            byte[] bytes = t.pieceBytes(id, true);
            String piece = new String(bytes, StandardCharsets.UTF_8);
            if (java.util.Arrays.equals(piece.getBytes(StandardCharsets.UTF_8), bytes)) {
                e.put("piece", piece);
            } else {
                ArrayNode b = e.putArray("piece"); // not valid UTF-8 alone: the bytes, as llama-server sends them
                for (byte x : bytes) b.add(x & 0xFF);
            }
        }
        server.sendJson(res, 200, o);
    }

    /** {"tokens": [...]} to {"content": "..."}. */
    void detokenize(ServerRequest req, ServerResponse res) {
        JsonFields f = new JsonFields(server.readJson(req));
        JsonNode n = f.node("tokens");
        if (n == null) throw ApiException.invalid("tokens", "missing_required_parameter",
                "Missing required parameter: 'tokens'.");
        if (!n.isArray()) throw ApiException.wrongType("tokens", "an array of token ids");
        Tokenizer t = server.ready().scheduler().tokenizer();
        List<Integer> ids = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw ApiException.wrongType("tokens",
                    "an array of token ids");
            int id = e.intValue();
            if (id < 0 || id >= t.vocabSize()) throw ApiException.invalid("tokens", "invalid_value",
                    "token id " + id + " is outside the vocabulary (0.." + (t.vocabSize() - 1) + ")");
            ids.add(id);
        }
        ObjectNode o = server.json().createObjectNode();
        o.put("content", t.decode(ids.stream().mapToInt(Integer::intValue).toArray()));
        server.sendJson(res, 200, o);
    }

    // ---------------------------------------------------------------- chat page

    void page(ServerRequest req, ServerResponse res) {
        try (InputStream in = Endpoints.class.getResourceAsStream("web/index.html")) {
            if (in == null) throw new ApiException(500, "server_error", null, null, "the chat page is missing from the jar");
            res.status(200);
            res.header(HeaderNames.CONTENT_TYPE, "text/html; charset=utf-8");
            res.send(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package org.mla4j.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import org.mla4j.Model;
import org.mla4j.chat.ChatFormat;
import org.mla4j.serve.BatchScheduler;
import org.mla4j.serve.CompletionRequests;

/**
 * {@code mla4j serve}: an OpenAI-compatible HTTP server (Helidon SE 4 web server, handlers on virtual threads) over a
 * {@link BatchScheduler}. The HTTP port opens at once and answers /health with 503 while the model loads. See
 * docs/ARCHITECTURE.md ("Server") for the endpoints and the design.
 */
public final class Mla4jServer implements AutoCloseable {

    /** What the server serves once the model is loaded. */
    record Loaded(Model model, BatchScheduler scheduler, ChatFormat chatFormat, String modelName, int maxTokens) {
    }

    /** Paths served without an API key: the chat page (it asks for the key) and the health check. */
    private static final Set<String> PUBLIC_PATHS = Set.of("/", "/index.html", "/health", "/v1/health");

    private final ServerConfig config;
    private final ObjectMapper json;
    private final WebServer web;
    private final HttpMetrics httpMetrics = new HttpMetrics();
    private final AtomicInteger activeHandlers = new AtomicInteger();
    private final CountDownLatch loadedLatch = new CountDownLatch(1);
    private volatile Loaded loaded;
    private volatile RuntimeException loadError;
    private volatile boolean stopping;
    private final Object shutdownLock = new Object();
    private boolean stopped;

    private Mla4jServer(ServerConfig config) {
        this.config = config;
        this.json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        // Bounded parsing: a hostile body cannot nest or stretch the parser beyond these.
        json.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64)
                .maxStringLength((int) Math.min(Integer.MAX_VALUE, config.maxBodyBytes())).build());
        Endpoints endpoints = new Endpoints(this);
        this.web = WebServer.builder()
                .host(config.host())
                .port(config.port())
                .shutdownHook(false) // shutdown(...) stops it after the requests in flight
                .maxPayloadSize(config.maxBodyBytes() * 2) // a backstop; bodies are bounded by readJson first
                .routing(r -> routes(r, endpoints))
                .build();
    }

    /**
     * Opens the port and loads the model in the background; {@link #awaitLoaded} waits for it.
     *
     * @throws IllegalStateException when the port cannot be bound
     */
    public static Mla4jServer start(ServerConfig config) {
        Mla4jServer s = new Mla4jServer(config);
        s.web.start();
        if (!s.web.isRunning() || s.web.port() <= 0) {
            // Helidon logs a bind failure and returns a stopped server instead of throwing.
            throw new IllegalStateException("cannot listen on " + config.host() + ":" + config.port()
                    + " (address in use or not available)");
        }
        Thread loader = new Thread(s::load, "mla4j-model-loader");
        loader.setDaemon(true);
        loader.start();
        return s;
    }

    private void load() {
        Model model = null;
        try {
            model = Model.load(config.model());
            int slotContext = config.slotContext(model.hparams().contextLength());
            BatchScheduler scheduler = BatchScheduler.start(model, new BatchScheduler.Options(config.parallel(),
                    slotContext, config.threads(), config.kvType(), config.batchSize(), config.maxQueued()));
            String name = config.alias() != null ? config.alias() : config.model().getFileName().toString();
            int maxTokens = config.maxTokens() > 0 ? config.maxTokens() : scheduler.contextSize();
            loaded = new Loaded(model, scheduler, CompletionRequests.chatFormat(model), name, maxTokens);
        } catch (RuntimeException e) {
            loadError = e;
            if (model != null) model.close();
        } finally {
            loadedLatch.countDown();
        }
    }

    /** Waits until the model is loaded; rethrows a loading failure. Returns false on timeout. */
    public boolean awaitLoaded(Duration timeout) throws InterruptedException {
        boolean done = loadedLatch.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (loadError != null) throw loadError;
        return done;
    }

    /** The bound port. */
    public int port() {
        return web.port();
    }

    public ServerConfig config() {
        return config;
    }

    /** The scheduler, once loaded (null before). */
    public BatchScheduler scheduler() {
        Loaded l = loaded;
        return l == null ? null : l.scheduler();
    }

    /**
     * Graceful shutdown: new requests get 503, running ones may finish within {@code grace}, then the rest are
     * cancelled (their clients get an error event or a 503), the port closes and the model is freed. Returns true
     * when every request finished by itself. Idempotent.
     */
    public boolean shutdown(Duration grace) {
        synchronized (shutdownLock) {
            if (stopped) return true;
            stopped = true;
        }
        stopping = true;
        boolean clean = true;
        Loaded l = loaded;
        if (l != null) clean = l.scheduler().shutdown(grace);
        // Let the handlers write their last bytes (each request's end is already decided).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (activeHandlers.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        web.stop();
        if (l != null) l.model().close();
        return clean;
    }

    /** Shuts down with the configured grace period. */
    @Override
    public void close() {
        shutdown(config.shutdownGrace());
    }

    // ---------------------------------------------------------------- routing and helpers

    private void routes(HttpRouting.Builder r, Endpoints e) {
        r.addFilter((chain, req, res) -> {
            String path = req.path().path();
            if (config.apiKey() != null && !PUBLIC_PATHS.contains(path) && !authorized(req)) {
                httpMetrics.count(path, 401);
                sendError(res, new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                        "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'."));
                return;
            }
            activeHandlers.incrementAndGet();
            try {
                chain.proceed();
            } finally {
                activeHandlers.decrementAndGet();
                httpMetrics.count(path, res.status().code());
            }
        });
        r.post("/v1/chat/completions", (req, res) -> e.completions(req, res, true));
        r.post("/chat/completions", (req, res) -> e.completions(req, res, true));
        r.post("/v1/completions", (req, res) -> e.completions(req, res, false));
        r.post("/completions", (req, res) -> e.completions(req, res, false));
        r.get("/v1/models", e::models);
        r.get("/models", e::models);
        r.get("/health", e::health);
        r.get("/v1/health", e::health);
        r.get("/metrics", e::metrics);
        r.post("/tokenize", e::tokenize);
        r.post("/detokenize", e::detokenize);
        r.get("/", e::page);
        r.get("/index.html", e::page);
        r.any((req, res) -> {
            if (req.prologue().method() == Method.OPTIONS) {
                res.status(204).send();
                return;
            }
            throw new ApiException(404, "invalid_request_error", null, "not_found",
                    "Unknown endpoint " + req.prologue().method().text() + " " + req.path().path());
        });
        r.error(ApiException.class, (req, res, ex) -> sendError(res, ex));
        r.error(Exception.class, (req, res, ex) -> sendError(res, new ApiException(500, "server_error", null, null,
                "Internal error: " + ex.getMessage())));
    }

    private boolean authorized(ServerRequest req) {
        String h = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
        String expected = "Bearer " + config.apiKey();
        return MessageDigest.isEqual(h.getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8));
    }

    /** The loaded model, or a 503 while it loads or once shutdown began. */
    Loaded ready() {
        if (stopping) throw new ApiException(503, "server_error", null, "server_shutting_down",
                "The server is shutting down.");
        Loaded l = loaded;
        if (l == null) {
            if (loadError != null) throw new ApiException(500, "server_error", null, "model_load_failed",
                    "The model failed to load: " + loadError.getMessage());
            throw new ApiException(503, "unavailable_error", null, "model_loading", "Loading model");
        }
        return l;
    }

    Loaded loadedOrNull() {
        return loaded;
    }

    RuntimeException loadError() {
        return loadError;
    }

    boolean stopping() {
        return stopping;
    }

    HttpMetrics httpMetrics() {
        return httpMetrics;
    }

    ObjectMapper json() {
        return json;
    }

    /** The request body as JSON, at most maxBodyBytes (413 beyond), syntax errors as 400. */
    JsonNode readJson(ServerRequest req) {
        long declared = req.headers().contentLength().orElse(-1);
        if (declared > config.maxBodyBytes()) throw tooLarge();
        byte[] body;
        try (InputStream in = req.content().inputStream()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out.size() + n > config.maxBodyBytes()) throw tooLarge();
                out.write(buf, 0, n);
            }
            body = out.toByteArray();
        } catch (IOException e) {
            throw ApiException.invalid(null, "invalid_body", "Could not read the request body: " + e.getMessage());
        }
        if (body.length == 0) throw ApiException.invalid(null, "invalid_json", "The request body is empty; "
                + "send a JSON object.");
        try {
            JsonNode node = json.readTree(body);
            if (node == null || !node.isObject()) throw ApiException.invalid(null, "invalid_json",
                    "The request body must be a JSON object.");
            return node;
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "invalid_json", "We could not parse the JSON body of your request: "
                    + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.invalid(null, "invalid_json", "Could not read the JSON body: " + e.getMessage());
        }
    }

    private ApiException tooLarge() {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "The request body is larger than this server's limit of " + config.maxBodyBytes() + " bytes.");
    }

    void sendJson(ServerResponse res, int status, Object node) {
        try {
            byte[] bytes = json.writeValueAsBytes(node);
            res.status(status);
            res.header(HeaderNames.CONTENT_TYPE, "application/json");
            res.send(bytes);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    void sendError(ServerResponse res, ApiException e) {
        if (res.isSent()) return;
        sendJson(res, e.status, OpenAiResponses.error(e.getMessage(), e.type, e.param, e.code));
    }
}

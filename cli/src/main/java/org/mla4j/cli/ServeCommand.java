package org.mla4j.cli;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.mla4j.server.Mla4jServer;
import org.mla4j.server.ServerConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * An OpenAI-compatible HTTP server (chat completions, completions, models, health, metrics, tokenize, a chat page).
 * SIGTERM or Ctrl-C shut it down gracefully: running requests get --shutdown-timeout seconds to finish, then are
 * cancelled.
 */
@Command(name = "serve", description = "Serve a model over an OpenAI-compatible HTTP API (and a chat page at /).")
final class ServeCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file or Hugging Face model directory.")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}; "
            + "0.0.0.0 serves every interface).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (default: ${DEFAULT-VALUE}; 0 = any free).")
    int port;

    @Option(names = {"-np", "--parallel"}, defaultValue = "1", description = "Slots: requests generated at once.")
    int parallel;

    @Option(names = {"-c", "--ctx-size"}, defaultValue = "0", description = "Total cache positions, split evenly over "
            + "the slots (0 = " + ServerConfig.DEFAULT_SLOT_CONTEXT + " per slot, or the training context if smaller).")
    int contextSize;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = all CPUs).")
    int threads;

    @Option(names = {"-b", "--batch-size"}, defaultValue = "512", description = "Prompt tokens evaluated per step.")
    int batchSize;

    @Option(names = {"--kv-type", "--cache-type"}, defaultValue = "f16",
            description = "Cache type: f32 or f16; MLA models also q8_0 and q4_0.")
    String kvType;

    @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' (also read from MLA4J_API_KEY).")
    String apiKey;

    @Option(names = "--alias", description = "Model name shown to clients (default: the file name).")
    String alias;

    @Option(names = "--max-queue", defaultValue = "64", description = "Requests that may wait for a slot; more get 429.")
    int maxQueue;

    @Option(names = "--max-tokens", defaultValue = "0",
            description = "The most tokens one request may ask for (0 = a slot's context).")
    int maxTokens;

    @Option(names = "--max-body", defaultValue = "1048576", description = "Largest request body in bytes.")
    long maxBody;

    @Option(names = "--shutdown-timeout", defaultValue = "10",
            description = "Seconds running requests may take to finish at shutdown before they are cancelled.")
    int shutdownSeconds;

    @Override
    public Integer call() throws InterruptedException {
        String key = apiKey != null ? apiKey : System.getenv("MLA4J_API_KEY");
        ServerConfig config;
        try {
            config = new ServerConfig(model, alias, host, port, parallel, contextSize, threads,
                    SessionOptionsMixin.parseKvType("--kv-type", kvType), batchSize, maxQueue, maxTokens, maxBody,
                    key == null || key.isEmpty() ? null : key, Duration.ofSeconds(Math.max(0, shutdownSeconds)));
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        Mla4jServer server;
        try {
            server = Mla4jServer.start(config);
        } catch (UncheckedIOException e) {
            throw new IllegalStateException("cannot listen on " + host + ":" + port + ": " + Main.oneLine(e), e);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM and Ctrl-C run shutdown hooks: finish or cancel the requests in flight, then exit.
        Thread hook = new Thread(() -> {
            System.err.println("mla4j serve: shutting down (running requests get " + shutdownSeconds + " s)");
            boolean clean = server.shutdown(config.shutdownGrace());
            System.err.println("mla4j serve: stopped" + (clean ? "" : " (requests still running were cancelled)"));
            stopped.countDown();
        }, "mla4j-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.println("mla4j serve: listening on http://" + host + ":" + server.port() + "/ (loading "
                + model.getFileName() + ")");
        try {
            server.awaitLoaded(Duration.ofDays(365));
        } catch (RuntimeException e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            server.shutdown(Duration.ZERO);
            throw e;
        }
        System.err.println("mla4j serve: model loaded; " + config.parallel() + " slot(s) of "
                + server.scheduler().contextSize() + " positions");
        stopped.await();
        return 0;
    }
}

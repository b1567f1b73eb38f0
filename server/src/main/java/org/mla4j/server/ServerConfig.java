package org.mla4j.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

import org.mla4j.gguf.GgmlType;

/**
 * How {@link Mla4jServer} runs.
 *
 * @param model GGUF file or Hugging Face directory
 * @param alias the model name clients see (/v1/models, "model" in responses); null: the file name
 * @param host address to bind (127.0.0.1 unless told otherwise)
 * @param port TCP port; 0 picks a free one
 * @param parallel slots: requests generated at once
 * @param contextSize total cache positions over all slots, split evenly (llama-server's -c with -np); 0: 4096 per
 *     slot, or the model's training context when smaller
 * @param threads compute threads (0 = all CPUs)
 * @param kvType cache type
 * @param batchSize prompt tokens evaluated per step
 * @param maxQueued requests that may wait for a slot; more get 429
 * @param maxTokens the most tokens one request may ask for (0: a slot's context)
 * @param maxBodyBytes request bodies larger than this get 413
 * @param apiKey required as "Authorization: Bearer KEY" when not null
 * @param shutdownGrace how long running requests may take to finish at shutdown before they are cancelled
 */
public record ServerConfig(Path model, String alias, String host, int port, int parallel, int contextSize,
        int threads, GgmlType kvType, int batchSize, int maxQueued, int maxTokens, long maxBodyBytes, String apiKey,
        Duration shutdownGrace) {

    public static final int DEFAULT_SLOT_CONTEXT = 4096;

    public ServerConfig {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(kvType, "kvType");
        Objects.requireNonNull(shutdownGrace, "shutdownGrace");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        if (parallel < 1) throw new IllegalArgumentException("parallel must be >= 1, got " + parallel);
        if (contextSize < 0) throw new IllegalArgumentException("ctx-size must be >= 0, got " + contextSize);
        if (contextSize > 0 && contextSize / parallel < 2) {
            throw new IllegalArgumentException("ctx-size " + contextSize + " leaves fewer than 2 positions for each of "
                    + parallel + " slots");
        }
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (batchSize < 1) throw new IllegalArgumentException("batch-size must be >= 1, got " + batchSize);
        if (maxQueued < 0) throw new IllegalArgumentException("max-queue must be >= 0, got " + maxQueued);
        if (maxTokens < 0) throw new IllegalArgumentException("max-tokens must be >= 0, got " + maxTokens);
        if (maxBodyBytes < 1024) throw new IllegalArgumentException("max-body must be >= 1024 bytes, got " + maxBodyBytes);
        if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("the API key is empty");
        if (shutdownGrace.isNegative()) throw new IllegalArgumentException("the shutdown grace period is negative");
    }

    /** Defaults for a model: 127.0.0.1:8080, one slot, F16 cache, 64 queued, 1 MiB bodies, 10 s grace. */
    public static ServerConfig defaults(Path model) {
        return new ServerConfig(model, null, "127.0.0.1", 8080, 1, 0, 0, GgmlType.F16, 512, 64, 0, 1 << 20, null,
                Duration.ofSeconds(10));
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(model, alias, host, p, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withParallel(int n) {
        return new ServerConfig(model, alias, host, port, n, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withContextSize(int n) {
        return new ServerConfig(model, alias, host, port, parallel, n, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withThreads(int n) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, n, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withMaxQueued(int n) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, batchSize, n,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withMaxTokens(int n) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                n, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withMaxBodyBytes(long n) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, n, apiKey, shutdownGrace);
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, key, shutdownGrace);
    }

    public ServerConfig withShutdownGrace(Duration d) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, d);
    }

    public ServerConfig withHost(String h) {
        return new ServerConfig(model, alias, h, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withAlias(String a) {
        return new ServerConfig(model, a, host, port, parallel, contextSize, threads, kvType, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withKvType(GgmlType t) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, t, batchSize, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    public ServerConfig withBatchSize(int n) {
        return new ServerConfig(model, alias, host, port, parallel, contextSize, threads, kvType, n, maxQueued,
                maxTokens, maxBodyBytes, apiKey, shutdownGrace);
    }

    /** Positions of one slot, given the model's training context. */
    int slotContext(int trainingContext) {
        return contextSize > 0 ? contextSize / parallel : Math.min(DEFAULT_SLOT_CONTEXT, trainingContext);
    }
}

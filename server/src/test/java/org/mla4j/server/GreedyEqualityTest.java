package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.StoriesGreedyTestAccess;
import org.mla4j.gguf.GgmlType;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;

/**
 * Greedy output through the server, alone and with 8 concurrent requests of different lengths, equals single-session
 * generation: for stories260K the reference is llama.cpp's own greedy continuation (the fixtures' token ids: a
 * prompt of the first k reference tokens must continue with the next ones); for an MLA model (synthetic deepseek2)
 * it is the Java API's {@link Generation} on one session, which is what {@code mla4j run} prints.
 */
class GreedyEqualityTest {

    /** Prompt = [BOS, Once, upon, a, time] + the first k reference tokens; expected = the next n. */
    static String body(int[] prompt, int maxTokens) {
        return "{\"prompt\": " + Arrays.toString(prompt) + ", \"max_tokens\": " + maxTokens
                + ", \"temperature\": 0, \"logprobs\": 0}";
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The generated tokens' pieces, as the completions logprobs list them, and the text. */
    record Generated(List<String> pieces, String text, int completionTokens) {
    }

    static Generated generated(TestServer.Reply r) {
        assertEquals(200, r.status(), r.body());
        JsonNode j = r.json();
        List<String> pieces = new ArrayList<>();
        j.at("/choices/0/logprobs/tokens").forEach(t -> pieces.add(t.asText()));
        return new Generated(pieces, j.at("/choices/0/text").asText(), j.at("/usage/completion_tokens").asInt());
    }

    @Test
    void storiesAloneAndEightConcurrentFollowLlamaCppsGreedyTokens() throws Exception {
        Path model = Fixtures.require("models/stories260K.gguf");
        int[] promptIds = StoriesGreedyTestAccess.promptIds();
        int[] greedy = StoriesGreedyTestAccess.greedyIds();
        List<String> pieces;
        try (Model m = Model.load(model)) {
            pieces = IntStream.of(greedy).mapToObj(m.tokenizer()::piece).collect(Collectors.toList());
        }
        try (TestServer s = new TestServer(ServerConfig.defaults(model).withParallel(8))) {
            Generated one = generated(s.post("/v1/completions", body(promptIds, 60)));
            assertEquals(pieces, one.pieces());
            assertEquals(StoriesGreedyTestAccess.REFERENCE, StoriesGreedyTestAccess.PROMPT + one.text());

            // 8 at once: prompts of 5..47 tokens, replies of 13..48 tokens, all inside the reference.
            List<CompletableFuture<Generated>> futures = new ArrayList<>();
            int[] ks = {0, 6, 12, 18, 24, 30, 36, 42};
            for (int k : ks) {
                int[] prompt = concat(promptIds, Arrays.copyOf(greedy, k));
                int n = Math.min(60 - k, 13 + (k * 5) % 36);
                futures.add(CompletableFuture.supplyAsync(() -> generated(s.post("/v1/completions", body(prompt, n)))));
            }
            for (int i = 0; i < ks.length; i++) {
                int k = ks[i];
                int n = Math.min(60 - k, 13 + (k * 5) % 36);
                Generated g = futures.get(i).get();
                assertEquals(pieces.subList(k, k + n), g.pieces(), "request with " + (5 + k) + " prompt tokens");
                assertEquals(n, g.completionTokens());
            }
            assertEquals(0, s.metric("mla4j_slots_busy"));
        }
    }

    @Test
    void mlaModelEightConcurrentEqualSingleSessionGeneration(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("deepseek2-tiny.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-tiny"), GgmlType.F32, 5, file, ProgressListener.NONE);
        int[][] prompts = new int[8][];
        for (int i = 0; i < 8; i++) {
            int len = 3 + i * 11; // 3..80 tokens: decode-sized and MHA-form-sized (>= 64) prompt batches
            prompts[i] = new int[len];
            prompts[i][0] = 1;
            for (int t = 1; t < len; t++) prompts[i][t] = 3 + (t * 37 + i * 101) % 500;
        }
        int[] maxTokens = {24, 17, 30, 9, 21, 28, 12, 25};
        String[] expected = new String[8];
        try (Model m = Model.load(file); Session session = m.newSession(Session.Options.defaults().withThreads(1)
                .withContextSize(512))) {
            for (int i = 0; i < 8; i++) {
                session.reset();
                Generation g = new Generation(session, m.tokenizer(), prompts[i], 0,
                        Generation.Options.of(maxTokens[i], SamplerConfig.greedy()));
                StringBuilder sb = new StringBuilder();
                g.run(t -> {
                    sb.append(t.text());
                    return true;
                });
                expected[i] = sb.toString();
            }
        }
        // Random weights rarely pick the end-of-generation token: the replies are long enough to compare.
        assertTrue(Arrays.stream(expected).mapToInt(String::length).sum() > 100, Arrays.toString(expected));
        try (TestServer s = new TestServer(ServerConfig.defaults(file).withParallel(8).withContextSize(8 * 512))) {
            List<CompletableFuture<Generated>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int[] p = prompts[i];
                int n = maxTokens[i];
                futures.add(CompletableFuture.supplyAsync(() -> generated(s.post("/v1/completions", body(p, n)))));
            }
            for (int i = 0; i < 8; i++) {
                assertEquals(expected[i], futures.get(i).get().text(), "request " + i);
            }
            // Alone, the longest one again (its slot's cache now holds a prefix it may reuse, or not: same text).
            assertEquals(expected[7], generated(s.post("/v1/completions", body(prompts[7], maxTokens[7]))).text());
        }
    }
}

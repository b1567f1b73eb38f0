package org.mla4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.StoriesGreedyTestAccess;

/** The scheduler alone on stories260K: llama.cpp's greedy tokens, continuous admission, cancel, queue, shutdown. */
class BatchSchedulerTest {

    static int[] ids(List<GeneratedToken> tokens) {
        return tokens.stream().mapToInt(GeneratedToken::id).toArray();
    }

    @Test
    void requestsAdmittedWhileOthersRunGiveLlamaCppsGreedyTokens() throws Exception {
        Path file = Fixtures.require("models/stories260K.gguf");
        int[] prompt = StoriesGreedyTestAccess.promptIds();
        int[] greedy = StoriesGreedyTestAccess.greedyIds();
        try (Model model = Model.load(file); BatchScheduler s = BatchScheduler.start(model,
                BatchScheduler.Options.defaults().withParallel(2).withThreads(1).withContextSize(256))) {
            // Three requests on two slots: the third starts when a slot frees, while the other still runs.
            List<TokenStream> streams = new ArrayList<>();
            int[] lengths = {60, 20, 40};
            for (int n : lengths) streams.add(s.stream(CompletionRequest.greedy(prompt, n)));
            for (int i = 0; i < 3; i++) {
                TokenStream.Completion c = streams.get(i).collect();
                assertEquals(Arrays.toString(Arrays.copyOf(greedy, lengths[i])), Arrays.toString(ids(c.tokens())));
                assertEquals(FinishReason.MAX_TOKENS, c.result().finishReason());
                assertEquals(lengths[i], c.result().completionTokens());
            }
            // A prompt that is the first request's prompt and reply (64 tokens: one full cache block) starts from
            // the cache: all but its last token are reused (that one is recomputed for its logits).
            int[] turn = Arrays.copyOf(prompt, 64);
            System.arraycopy(greedy, 0, turn, prompt.length, 64 - prompt.length);
            TokenStream.Completion c = s.stream(CompletionRequest.greedy(turn, 1)).collect();
            assertEquals(greedy[64 - prompt.length], ids(c.tokens())[0]);
            assertEquals(63, c.result().cachedPromptTokens(), "prefix reuse: " + s.stats());
            assertEquals(0, s.stats().busySlots());
            assertEquals(0, s.stats().cacheTokensUsed());
            // Idle: no block is held by a request; full blocks stay cached for later prompts.
            assertEquals(0, s.stats().cacheBlocksUsed(), s.stats().toString());
            assertEquals(8, s.stats().cacheBlocksTotal()); // 2 slots x 256 positions in blocks of 64
            assertTrue(s.stats().cacheBlocksCached() >= 1, s.stats().toString());
        }
    }

    @Test
    void cancelFreesTheSlotAndAFullQueueRefuses() throws Exception {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model model = Model.load(file); BatchScheduler s = BatchScheduler.start(model,
                BatchScheduler.Options.defaults().withThreads(1).withContextSize(2048).withMaxQueued(1))) {
            int[] prompt = StoriesGreedyTestAccess.promptIds();
            CompletionRequest endless = new CompletionRequest(prompt, 2000, CompletionRequest.greedy(prompt, 1)
                    .sampler(), List.of(), -1, true, true);
            TokenStream running = s.stream(endless);
            assertTrue(running.take() instanceof TokenStream.Started);
            TokenStream queued = s.stream(CompletionRequest.greedy(prompt, 3));
            assertThrows(QueueFullException.class, () -> s.stream(CompletionRequest.greedy(prompt, 3)));
            queued.cancel();
            assertEquals(FinishReason.CANCELLED, queued.collect().result().finishReason());
            running.cancel();
            TokenStream.Completion c = running.collect();
            assertEquals(FinishReason.CANCELLED, c.result().finishReason());
            assertTrue(c.result().completionTokens() < 2000);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (s.stats().busySlots() != 0 && System.nanoTime() < deadline) Thread.sleep(5);
            assertEquals(0, s.stats().busySlots());
            assertEquals(2L, s.stats().finished().get(FinishReason.CANCELLED));
            assertEquals(1L, s.stats().requestsRejected());
            // The slot serves again, from a clean state.
            int[] greedy = StoriesGreedyTestAccess.greedyIds();
            assertEquals(Arrays.toString(Arrays.copyOf(greedy, 8)),
                    Arrays.toString(ids(s.stream(CompletionRequest.greedy(prompt, 8)).collect().tokens())));
            assertTrue(s.shutdown(Duration.ofSeconds(1)));
            assertThrows(SchedulerClosedException.class, () -> s.stream(CompletionRequest.greedy(prompt, 3)));
        }
    }

    @Test
    void aPromptThatDoesNotFitIsRefused() {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model model = Model.load(file); BatchScheduler s = BatchScheduler.start(model,
                BatchScheduler.Options.defaults().withThreads(1).withContextSize(16))) {
            int[] prompt = new int[16];
            Arrays.fill(prompt, 300);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> s.stream(CompletionRequest.greedy(prompt, 1)));
            assertTrue(e.getMessage().contains("16 tokens"), e.getMessage());
            assertThrows(InvalidRequestException.class, () -> CompletionRequests.build(prompt,
                    CompletionRequests.Params.defaults(), "prompt", 16, 16));
        }
    }
}

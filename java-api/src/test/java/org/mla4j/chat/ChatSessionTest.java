package org.mla4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.sampling.SamplerConfig;

/** Multi-turn chat on the real stories260K model (no chat template: the plain fallback). */
class ChatSessionTest {
    /** The published llama2.c greedy continuation of "Once upon a time" (fixtures' SOURCES.md). */
    private static final String REFERENCE = ", there was a little girl named Lily. She loved to play outside in the park. "
            + "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

    private static Session.Options options() {
        return Session.Options.defaults().withThreads(1);
    }

    @Test
    void secondTurnReusesTheCacheAndMatchesAFreshRunOfTheWholeText() {
        try (Model model = Model.load(Fixtures.require("models/stories260K.gguf"));
                Session session = model.newSession(options())) {
            assertTrue(ChatTemplate.fromMetadata(model.gguf()).isEmpty(), "stories260K has no chat template");
            ChatFormat format = ChatFormat.of(Optional.empty(), model.tokenizer());
            ChatSession chat = new ChatSession(session, model.tokenizer(), format, SamplerConfig.greedy(), 20);
            StringBuilder streamed = new StringBuilder();
            ChatSession.Reply first = chat.send("Once upon a time", streamed::append);
            assertTrue(first.text().length() > 40 && REFERENCE.startsWith(first.text()), first.text());
            assertEquals(first.text(), streamed.toString());
            assertEquals(Generation.StopReason.MAX_TOKENS, first.stopReason());
            assertEquals(5, first.promptTokensEvaluated()); // BOS + 4 tokens

            ChatSession.Reply second = chat.send("The cat", t -> {});
            // Only the new text is evaluated: the cache already holds the first prompt and reply.
            assertTrue(second.promptTokensEvaluated() < 10, "evaluated " + second.promptTokensEvaluated());

            // The same conversation as one prompt, from an empty cache, gives the same reply.
            String whole = "Once upon a time" + first.text() + "\nThe cat";
            assertEquals(whole, format.render(chat.messages().subList(0, 3), true));
            try (Session fresh = model.newSession(options())) {
                Generation g = new Generation(fresh, model.tokenizer(), whole,
                        Generation.Options.of(20, SamplerConfig.greedy()));
                StringBuilder text = new StringBuilder();
                g.run(t -> text.append(t.text()) != null);
                assertEquals(text + g.flush(), second.text());
            }
        }
    }

    @Test
    void cancelStopsTheReplyAndTheNextTurnStillWorks() {
        try (Model model = Model.load(Fixtures.require("models/stories260K.gguf"));
                Session session = model.newSession(options())) {
            ChatFormat format = ChatFormat.of(Optional.empty(), model.tokenizer());
            ChatSession chat = new ChatSession(session, model.tokenizer(), format, SamplerConfig.greedy(), 50);
            int[] pieces = {0};
            ChatSession.Reply cancelled = chat.send("Once upon a time", t -> {
                if (++pieces[0] == 3) {
                    chat.cancel(); // as a Ctrl-C handler would, between two evals
                }
            });
            assertEquals(Generation.StopReason.CANCELLED, cancelled.stopReason());
            assertEquals(3, cancelled.generatedTokens());
            chat.reset();
            ChatSession.Reply again = chat.send("Once upon a time", t -> {});
            assertEquals(Generation.StopReason.MAX_TOKENS, again.stopReason());
            assertTrue(again.text().startsWith(cancelled.text()), again.text());
            assertEquals(List.of("user", "assistant"), chat.messages().stream().map(ChatMessage::role).toList());
            assertFalse(again.text().isEmpty());
        }
    }
}

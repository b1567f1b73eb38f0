package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;

/** `mla4j run --chat` on a model without a chat template: the plain prompt, and a note saying so. */
class RunChatOptionTest {
    @Test
    void withoutATemplateTheChatPromptIsThePlainPrompt() {
        String model = Fixtures.require("models/stories260K.gguf").toString();
        CliTest.Run r = CliTest.run("run", "-m", model, "-p", "Once upon a time", "-n", "60", "--temp", "0", "-t", "1",
                "--chat");
        assertEquals(0, r.code(), r.err());
        assertEquals(CliTest.REFERENCE + "\n", r.out());
        assertTrue(r.err().contains("stories260K.gguf has no chat template; the prompt is used as plain text"), r.err());
    }
}

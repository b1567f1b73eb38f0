package org.mla4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.StoriesGreedyTestAccess;

/** Chat logprobs in OpenAI's shape, against the log-softmax of the logits computed here from one session. */
class LogprobsTest {

    @Test
    void chatLogprobsAreTheLogSoftmaxOfTheModelsLogits() {
        Path model = Fixtures.require("models/stories260K.gguf");
        double[] logSoftmax;
        try (Model m = Model.load(model); Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
            float[] logits = s.eval(StoriesGreedyTestAccess.promptIds());
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) max = Math.max(max, l);
            double sum = 0;
            for (float l : logits) sum += Math.exp(l - max);
            logSoftmax = new double[logits.length];
            for (int i = 0; i < logits.length; i++) logSoftmax[i] = logits[i] - max - Math.log(sum);
        }
        int first = StoriesGreedyTestAccess.greedyIds()[0]; // ","
        try (TestServer s = TestServer.of(model)) {
            TestServer.Reply r = s.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \""
                    + StoriesGreedyTestAccess.PROMPT + "\"}], \"max_tokens\": 3, \"temperature\": 0, "
                    + "\"logprobs\": true, \"top_logprobs\": 3}");
            assertEquals(200, r.status(), r.body());
            JsonNode content = r.json().at("/choices/0/logprobs/content");
            assertEquals(3, content.size());
            JsonNode e = content.get(0);
            assertEquals(",", e.get("token").asText());
            assertEquals(44, e.get("bytes").get(0).asInt());
            assertEquals(logSoftmax[first], e.get("logprob").asDouble(), 1e-4);
            JsonNode top = e.get("top_logprobs");
            assertEquals(3, top.size());
            assertEquals(",", top.get(0).get("token").asText()); // greedy: the chosen token is the most likely
            assertEquals(e.get("logprob").asDouble(), top.get(0).get("logprob").asDouble(), 1e-9);
            assertTrue(top.get(1).get("logprob").asDouble() <= top.get(0).get("logprob").asDouble());
            assertTrue(top.get(2).get("logprob").asDouble() <= top.get(1).get("logprob").asDouble());
            // Without logprobs the field is null, as OpenAI sends it.
            TestServer.Reply plain = s.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": "
                    + "\"Once\"}], \"max_tokens\": 1}");
            assertTrue(plain.json().at("/choices/0/logprobs").isNull(), plain.body());
        }
    }
}

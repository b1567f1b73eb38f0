package org.mla4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Acceptance 4: the templates of three chat formats, written here in the style their models ship them
 * (whitespace control, trim_blocks), render exactly the strings the formats define for a two-turn conversation.
 */
class ChatTemplateTest {
    private static final List<ChatMessage> TWO_TURNS = List.of(
            ChatMessage.system("You are a helpful assistant."),
            ChatMessage.user("Hello!"),
            ChatMessage.assistant("Hi. How can I help?"),
            ChatMessage.user("Tell me a joke."));

    /** Llama 3 Instruct: header ids, a blank line, content trimmed, eot after every message. */
    private static final String LLAMA3 = """
            {% set loop_messages = messages %}{% for message in loop_messages %}\
            {% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}\
            {% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}\
            {% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}""";

    /** Qwen2.5 (ChatML) without tools: a default system prompt when the conversation has none. */
    private static final String QWEN25 = """
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
            {%- else %}
                {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
            {%- endif %}
            {%- for message in messages %}
                {%- if message.role == "user" or (message.role == "system" and not loop.first) or message.role == "assistant" %}
                    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
                {%- endif %}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|im_start|>assistant\\n' }}
            {%- endif %}
            """;

    /** Mistral Instruct (v0.1/v0.2 style): [INST] blocks, strict user/assistant alternation, no system role. */
    private static final String MISTRAL = """
            {{ bos_token }}{% for message in messages %}\
            {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\
            {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
            {% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}\
            {% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}\
            {% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}""";

    @Test
    void llama3() {
        var template = new ChatTemplate(LLAMA3, "<|begin_of_text|>", "<|end_of_text|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi. How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", template.render(TWO_TURNS, true));
    }

    @Test
    void qwen25ChatMl() {
        var template = new ChatTemplate(QWEN25, "", "<|im_end|>");
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi. How can I help?<|im_end|>\n"
                + "<|im_start|>user\nTell me a joke.<|im_end|>\n"
                + "<|im_start|>assistant\n", template.render(TWO_TURNS, true));
        // Without a system message the default one is used; without add_generation_prompt no assistant header.
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n", template.render(List.of(ChatMessage.user("Hello!")), false));
    }

    @Test
    void mistral() {
        var template = new ChatTemplate(MISTRAL, "<s>", "</s>");
        assertEquals("<s>[INST] Hello! [/INST]Hi. How can I help?</s>[INST] Tell me a joke. [/INST]",
                template.render(TWO_TURNS.subList(1, 4), true));
    }

    @Test
    void aTemplateThatRejectsTheConversationSaysWhy() {
        var template = new ChatTemplate(MISTRAL, "<s>", "</s>");
        var e = assertThrows(ChatTemplateException.class, () -> template.render(TWO_TURNS, true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
    }

    @Test
    void aBrokenTemplateIsAClearError() {
        var e = assertThrows(ChatTemplateException.class,
                () -> new ChatTemplate("{% for m in messages %}{{ m.content }}", "", "").render(TWO_TURNS, true));
        assertTrue(e.getMessage().startsWith("chat template failed"), e.getMessage());
        var unknownTag = assertThrows(ChatTemplateException.class,
                () -> new ChatTemplate("{% frobnicate %}", "", "").render(TWO_TURNS, true));
        assertTrue(unknownTag.getMessage().contains("frobnicate"), unknownTag.getMessage());
    }

    @Test
    void pythonStringMethodsWork() {
        var template = new ChatTemplate("{{ messages[0].content.strip() }}|{{ messages[0].content.lstrip(' <') }}|"
                + "{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'abc'.startswith('ab') }}|{{ 'Ab'.upper() }}", "", "");
        assertEquals("<x> y|x> y |b|true|AB", template.render(List.of(ChatMessage.user(" <x> y ")), false));
    }

    @Test
    void strftimeFormatsLikePython() {
        var t = ZonedDateTime.of(2024, 7, 26, 9, 5, 3, 0, ZoneOffset.UTC);
        assertEquals("26 Jul 2024", Strftime.format("%d %b %Y", t));
        assertEquals("Friday, July 26 09:05:03 %", Strftime.format("%A, %B %d %H:%M:%S %%", t));
    }
}

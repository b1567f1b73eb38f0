package org.mla4j;

/**
 * A native mla4j call failed. Carries the mla4j_status code, its name (e.g. "MLA4J_ERR_FORMAT") and the
 * library's message, which names the file and the problem.
 */
public class Mla4jException extends RuntimeException {

    /** The mla4j_status code. */
    private final int status;
    /** The status code's name. */
    private final String statusName;
    /** The native library's message. */
    private final String nativeMessage;

    /**
     * An exception for a failed native call.
     *
     * @param status
        the mla4j_status code (non-zero)
     * @param statusName    its name, from mla4j_status_name
     * @param nativeMessage the text of mla4j_last_error ("" when the library left none)
     * @param context       what the Java API was doing, prefixed to the message, or null
     */
    public Mla4jException(int status, String statusName, String nativeMessage, String context) {
        super(message(status, statusName, nativeMessage, context));
        this.status = status;
        this.statusName = statusName;
        this.nativeMessage = nativeMessage;
    }

    private static String message(int status, String statusName, String nativeMessage, String context) {
        StringBuilder sb = new StringBuilder();
        if (context != null && !context.isEmpty()) sb.append(context).append(": ");
        sb.append(nativeMessage.isEmpty() ? "failed" : nativeMessage);
        sb.append(" (").append(statusName).append(", status ").append(status).append(')');
        return sb.toString();
    }

    /** {@return the mla4j_status code, e.g. 3 for MLA4J_ERR_FORMAT} */
    public int status() {
        return status;
    }

    /** {@return the name of the status code, e.g. "MLA4J_ERR_FORMAT"} */
    public String statusName() {
        return statusName;
    }

    /** {@return the native library's message (mla4j_last_error), without context; "" when it left none} */
    public String nativeMessage() {
        return nativeMessage;
    }
}

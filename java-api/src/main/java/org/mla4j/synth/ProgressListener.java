package org.mla4j.synth;

/** Told how far {@link Synth#write} has come. */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores every call. */
    ProgressListener NONE = (tensor, done, total) -> { };

    /**
     * Called after each chunk of tensor data is written.
     *
     * @param tensor the tensor being written
     * @param bytesDone tensor data bytes written so far, over all tensors
     * @param bytesTotal tensor data bytes of the whole file
     */
    void progress(String tensor, long bytesDone, long bytesTotal);
}

"""Meeting platforms. Each adapter joins one kind of meeting and reports what happens
in it as `MeetingEvent`s; none of them knows where the audio goes next."""

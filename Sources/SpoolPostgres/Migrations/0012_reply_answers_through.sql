-- What an AI reply answered: the newest message of the contact that its prompt included. A message the
-- contact sent after that, even while the reply was being written, is still unanswered, and a reply
-- whose messages another answer already covered is not stored (see AIReplies).
ALTER TABLE messages ADD COLUMN answers_through timestamptz;

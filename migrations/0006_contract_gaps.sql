ALTER TABLE `conversations` ADD `icon` text;--> statement-breakpoint
ALTER TABLE `uploads` ADD `proof_ranges` text;--> statement-breakpoint
ALTER TABLE `uploads` ADD `proof_state` text;
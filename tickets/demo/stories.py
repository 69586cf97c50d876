"""What the demo tickets say: a few typical stories per category, in plain words.

Each ``Story`` is one kind of problem as a customer writes it and as the desk answers
it. ``history`` picks a story for each generated ticket and fills its placeholders
(``{first}`` the customer's first name, ``{app}``, ``{device}``, ``{site}``,
``{share}``, ``{printer}``, ``{n}``) so that two tickets of one story still differ.

Fields: ``reply`` is the first answer of the tier the ticket is at; ``question`` /
``answer`` a round trip with the customer; ``resolution`` the fix at that tier;
``handoff`` (symptom, steps tried, findings) what that tier hands up when it cannot
fix it, and ``fix`` what the next tier then does; ``article`` the KB article that
solves it (``None``: no article covers it, a KB gap).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Story:
    subject: str
    description: str
    reply: str
    resolution: str
    article: str | None = None
    question: str = ""
    answer: str = ""
    note: str = ""
    handoff: tuple[str, str, str] = ("", "", "")
    fix: str = ""
    reopen: str = ""


# Pools the placeholders are filled from.
APPS = [
    "Adobe Acrobat",
    "Visio",
    "Zoom",
    "AutoCAD LT",
    "Power BI Desktop",
    "7-Zip",
    "Slack",
    "Notepad++",
]
DEVICES = ["ThinkPad T14", "Dell Latitude 5440", "MacBook Air", "Surface Pro 9", "HP EliteBook 840"]
SITES = ["the Leeds office", "the Bristol office", "the fourth floor", "the reception area", "home"]
SHARES = ["Projects", "Finance", "HR-Confidential", "Marketing Assets", "Site Photos", "Payroll"]
PRINTERS = ["PRN-2F-East", "PRN-Reception", "PRN-3F-Copy", "PRN-Studio-A3"]

# How agents open and close a message, and how customers sign off.
GREETINGS = [
    "Hi {first},",
    "Hello {first},",
    "Hi {first}, thanks for getting in touch.",
    "Good morning {first},",
]
SIGNOFFS = ["Best,", "Thanks,", "Kind regards,", "Cheers,", "Have a good day,"]
CUSTOMER_SIGNOFFS = [
    "Thanks, {first}",
    "Many thanks,\n{first}",
    "{first}",
    "Cheers,\n{first}",
    "Thank you!\n{first}",
]

CSAT_COMMENTS = {
    5: [
        "Quick and friendly, thank you!",
        "Sorted in minutes. Great service.",
        "Really clear explanation, thanks.",
        "",
    ],
    4: [
        "All good now, took a little while.",
        "Fixed, thanks. The first reply could have been quicker.",
        "",
    ],
    3: ["It works now but I had to explain it twice.", "OK in the end."],
    2: [
        "Took days and I was passed between teams.",
        "Fixed, but nobody told me what was going on.",
    ],
    1: ["Still not happy, it took far too long.", "I waited three days for a password reset."],
}

BOUNCE_REASONS = [
    "The hand-off does not say which error the customer sees. Please add the exact message and a screenshot before sending it up again.",
    "Steps tried is empty apart from 'restarted'. Please run the first-contact triage script and note the results.",
    "This looks like the MFA re-registration from the new script. Please try that first; send it back up if it fails.",
    "No device name or user ID in the hand-off, so we cannot look it up. Please add them.",
]
DEESCALATE_REASONS = [
    "This is a standard password reset, Tier 1 handles these with the reset script.",
    "The share permissions are fine; the customer just needs to be added to the group. Back to Tier 1 for the access request.",
]
REBUILD_NOTE = (
    "Added the missing details after the bounce: exact error, device name and the triage results."
)

STORIES: dict[str, list[Story]] = {
    # ------------------------------------------------------------------ Tier 1
    "account-unlock": [
        Story(
            subject="Locked out of my account",
            description="Hi, I typed my password wrong a few times this morning and now it says my account is locked. I can't get into email or anything. Can you unlock it please?",
            reply="I've unlocked your account, you can sign in again now. If it locks again straight away, your phone may still be trying the old password in its mail app.",
            resolution="Account unlocked after 5 failed sign-ins. Customer signed in fine.",
            article="unlock-your-account",
            note="Lockout source: 5 bad attempts from the customer's laptop, nothing from unknown locations.",
            question="Your account keeps locking again. Do you have a phone or tablet that gets work email? If so, can you tell me which one?",
            answer="Yes, my iPhone has work email on it. I changed my password on Monday.",
            handoff=(
                "Account locks again within minutes of every unlock.",
                "Unlocked three times, checked the customer's devices, removed the old password from the phone.",
                "Lockout events come from a device we cannot identify, IP in our own range.",
            ),
            fix="Found an old laptop under the customer's desk still logged in with cached credentials. Signed it out, account has stayed unlocked since.",
        ),
        Story(
            subject="Account locked after holiday",
            description="Back from two weeks off and my account is locked. I think my password expired while I was away.",
            reply="Welcome back! Your password had expired and the old one was tried a few times, which locked the account. I've unlocked it and set it to ask for a new password when you sign in.",
            resolution="Unlocked; expired password, user set a new one at sign-in.",
            article="unlock-your-account",
            note="Password expired 9 days ago. Talked the customer through the change screen.",
        ),
        Story(
            subject="Says my account is disabled",
            description="When I try to log in it says 'Your account has been locked. Contact your support person to unlock it'. I didn't do anything different.",
            reply="Thanks for the screenshot. I can see the lockout, and I've cleared it. Please try signing in again and let me know if the message comes back.",
            resolution="Cleared the lockout; caused by a saved old password in the VPN client.",
            article="tier1-script-account-unlock-call",
            question="It happened again at 10:40. Were you connecting to the VPN at that moment?",
            answer="Yes, I was just starting the VPN. Is that the problem?",
        ),
    ],
    "password-reset": [
        Story(
            subject="Forgot my password",
            description="I can't remember my password and the reset email isn't arriving. Could you help?",
            reply="No problem. The reset email goes to your personal address on file, and it can take a few minutes. I've sent a fresh one; please also check your spam folder.",
            resolution="Reset link re-sent; customer reset the password and signed in.",
            article="reset-your-password",
            question="I've checked and the address we have on file is an old one. Can you confirm your personal email address so I can update it?",
            answer="Ah, that's my old Hotmail. The right one is the Gmail address I'm replying from.",
        ),
        Story(
            subject="Password expired, can't change it",
            description="It says my password has expired but when I try to choose a new one it keeps saying it doesn't meet the requirements. I've tried loads.",
            reply="The rules are at least 14 characters, and it can't contain your name or one of your last 10 passwords. A short sentence works well, like three or four words with spaces.",
            resolution="Explained the password rules; customer set a new passphrase.",
            article="reset-your-password",
            note="Customer was trying 12-character passwords. Policy is 14.",
        ),
        Story(
            subject="Need a password reset for my work account",
            description="My password isn't working on {device} since this morning. I haven't changed it as far as I know.",
            reply="I've checked your identity with the security questions and reset your password. I'll send the temporary one by text to your mobile; you'll be asked to change it when you sign in.",
            resolution="Verified identity by callback, issued temporary password, customer changed it.",
            article="tier1-script-password-reset-call",
            handoff=(
                "Reset works but the new password is refused on the laptop within a minute.",
                "Reset twice, confirmed replication, restarted the laptop, tried a wired connection.",
                "Laptop shows 'trust relationship' warning in the event log.",
            ),
            fix="The laptop had lost its domain trust. Re-joined it to the domain; sign-in works with the new password.",
        ),
    ],
    "account-lifecycle": [
        Story(
            subject="New starter on Monday",
            description="We have a new person starting in our team on Monday. Can you set up an account, email and a laptop for them? They'll need the same access as me.",
            reply="Happy to help. I've started the new starter checklist. I just need their full name as it should appear, their job title and their line manager.",
            resolution="New account, mailbox and group access created; laptop booked for Monday 9:00.",
            article="tier1-script-new-starter-access",
            question="Could you send me the new starter's full name, job title and start date so I can finish the setup?",
            answer="Sure: Jordan Blake, Project Coordinator, starting Monday. Manager is me.",
            note="Copied group memberships from the manager, minus Finance approvers.",
        ),
        Story(
            subject="Leaver: please close account for a colleague",
            description="One of my team finished yesterday. Could you disable their account and forward their email to me for a month?",
            reply="Thanks for letting us know. I've disabled the account, set up forwarding to you for 30 days and put an out-of-office message on the mailbox.",
            resolution="Account disabled, mail forwarded for 30 days, laptop collection booked.",
            note="HR leaver form matches. Licence released back to the pool.",
        ),
        Story(
            subject="Name change after getting married",
            description="I got married last month and changed my surname. Can my email address and name in Teams be updated?",
            reply="Congratulations! I've updated your name everywhere and added your new email address. Your old address keeps working too, so nothing gets lost.",
            resolution="Display name and primary address updated; old address kept as alias.",
        ),
    ],
    "access-rights": [
        Story(
            subject="Need access to the {share} folder",
            description="I've moved into a new role and need access to the {share} shared folder. My manager has said it's fine.",
            reply="I've sent an approval request to the folder owner. As soon as they approve you'll get access; it usually shows up after you sign out and back in.",
            resolution="Owner approved; added to the {share} read/write group.",
            article="request-access-to-a-shared-folder-or-app",
            question="The folder owner asks what you need to do in there. Just read files, or edit them too?",
            answer="I need to edit the files, I'll be updating the trackers every week.",
        ),
        Story(
            subject="Can't open files in {share}",
            description="I could open the {share} folder last week but now it says access denied. Nothing else changed.",
            reply="Your access came through a project group that ended last Friday. I've asked the folder owner whether you should keep it.",
            resolution="Re-added to the group after the owner confirmed; access works again.",
            article="request-access-to-a-shared-folder-or-app",
            handoff=(
                "Access denied on {share} although the user is in the right group.",
                "Checked group membership, signed out and in, cleared the cached credentials.",
                "Group membership is correct; the folder permissions look broken on the file server.",
            ),
            fix="The folder's permissions had stopped inheriting after a move on the file server. Restored inheritance; access works for the whole group.",
        ),
        Story(
            subject="Access to the expenses app",
            description="Could I get access to the expenses app? I have receipts to submit from my trip.",
            reply="I've added you to the expenses app. You should see it on your app launcher within the hour.",
            resolution="Added to the expenses app users group.",
            article="request-access-to-a-shared-folder-or-app",
        ),
    ],
    "endpoint-management": [
        Story(
            subject="New laptop setup",
            description="My new {device} arrived. How do I set it up? I don't want to lose anything from the old one.",
            reply="Great that it's arrived! Turn it on, connect to the office Wi-Fi and sign in with your work account; it sets itself up in about 30 minutes. Your OneDrive files come across on their own.",
            resolution="Walked the customer through the first sign-in; files synced from OneDrive.",
            article="set-up-your-new-laptop",
            question="Before we wipe your old laptop: do you have anything saved only on its desktop or in Downloads?",
            answer="Just a couple of files on the desktop, I've moved them to OneDrive now.",
        ),
        Story(
            subject="Laptop says it is not compliant",
            description="My {device} says 'this device doesn't meet your organisation's requirements' and I can't open Outlook.",
            reply="That usually means it's missing an update or encryption isn't finished. I've pushed the missing update to it; please restart and leave it on power for 20 minutes.",
            resolution="Pending security update installed; device compliant again.",
            note="Device was 3 cumulative updates behind. Pushed them from the management console.",
            handoff=(
                "Device stays non-compliant after updates.",
                "Installed updates, restarted, forced a compliance check, checked BitLocker status.",
                "BitLocker shows as suspended and can't be resumed by Tier 1 tools.",
            ),
            fix="TPM needed clearing after a firmware update. Cleared it, BitLocker resumed, device is compliant.",
        ),
        Story(
            subject="Phone lost, work email on it",
            description="I think I left my work phone on the train. It has my email on it. What should I do?",
            reply="Thanks for telling us straight away. I've locked the phone and signed it out of your work account, so nobody can read your email on it.",
            resolution="Remote lock and work-profile wipe sent; replacement phone ordered.",
            note="Wipe confirmed by the management console at 14:12.",
        ),
    ],
    "os-driver-updates": [
        Story(
            subject="Updates keep failing on my laptop",
            description="My laptop keeps saying updates failed and wants to restart every day. It's getting annoying.",
            reply="Sorry about that. I've cleared the failed update and queued it again. Please restart tonight before you go, and it should finish this time.",
            resolution="Cleared the update cache; the cumulative update installed on the next restart.",
            article="install-windows-and-macos-updates",
            handoff=(
                "Cumulative update fails every night with error 0x800f0922.",
                "Cleared the update cache, ran the troubleshooter, freed 20 GB of disk space.",
                "The system reserved partition is full.",
            ),
            fix="Resized the recovery partition; the update installed.",
        ),
        Story(
            subject="Second screen not working after update",
            description="Since the update yesterday my second monitor just shows 'no signal'. It was fine before.",
            reply="The update replaced the display driver. I've pushed the manufacturer's driver back to your {device}; please restart and plug the screen in again.",
            resolution="Rolled back to the vendor display driver; both screens work.",
            question="Are you connecting the screen through the dock or straight into the laptop?",
            answer="Through the dock on my desk.",
        ),
        Story(
            subject="macOS update asking for admin password",
            description="My Mac says there's an update but asks for an admin password, which I don't have.",
            reply="You don't need the admin password: the update installs itself from Self Service tonight. If you want it now, open Self Service and click Install next to the update.",
            resolution="Customer installed the update from Self Service.",
            article="install-windows-and-macos-updates",
        ),
    ],
    "install-applications": [
        Story(
            subject="Please install {app}",
            description="Could I get {app} installed on my laptop? I need it for a project starting next week.",
            reply="{app} is in the Company Portal, so you can install it yourself: open Company Portal, search for it and click Install. It takes a few minutes.",
            resolution="Customer installed {app} from the Company Portal.",
            article="install-software-from-company-portal",
        ),
        Story(
            subject="{app} won't install",
            description="I tried to install {app} from the Company Portal but it just says 'install failed'.",
            reply="Thanks for trying first. I can see the error on our side; I've retried the install from here. It should show up in the next 10 minutes.",
            resolution="Re-pushed the {app} package; installed fine.",
            article="install-software-from-company-portal",
            question="It still says failed. Could you restart your laptop and try once more, then tell me what the message says?",
            answer="Restarted and tried again. This time it says 'another installation is in progress'.",
            handoff=(
                "{app} install fails on this device only.",
                "Retried from Company Portal and from the console, restarted, checked free disk space.",
                "Installer log shows a broken older version that can't be removed.",
            ),
            fix="Removed the broken old version with the vendor's clean-up tool, then installed {app}.",
        ),
        Story(
            subject="Remove old software",
            description="There's an old version of {app} on my laptop that keeps popping up asking for a licence. Can you remove it?",
            reply="I've uninstalled the old version remotely. You won't see the licence message again.",
            resolution="Uninstalled the unlicensed old version of {app}.",
        ),
    ],
    "microsoft-365": [
        Story(
            subject="Outlook keeps asking for my password",
            description="Outlook keeps popping up asking for my password every few minutes, even though I type it in correctly.",
            reply="That's usually a stuck sign-in. I've cleared your sessions on our side; please close Outlook, open it again and sign in once.",
            resolution="Revoked stale sessions; Outlook stopped prompting.",
            article="outlook-mailbox-basics",
            question="Did the prompts start after you changed your password recently?",
            answer="Yes, I changed it on Tuesday I think.",
        ),
        Story(
            subject="OneDrive not syncing",
            description="My OneDrive has a red cross on it and my files haven't synced since yesterday. I'm worried I'll lose work.",
            reply="Your files are safe. One file name had a character OneDrive doesn't like, which stopped the sync. I've renamed it and the sync has started again.",
            resolution="Renamed a file with an invalid character; sync caught up.",
            article="onedrive-sync-problems",
        ),
        Story(
            subject="No sound in Teams calls",
            description="People can't hear me in Teams calls but my mic works in other apps. I have a big call at 3.",
            reply="In Teams, go to Settings > Devices and pick your headset as the microphone; Teams had chosen the laptop's built-in one. Want me to do a test call with you?",
            resolution="Teams was using the wrong microphone; changed it and did a test call.",
            article="teams-audio-and-video-problems",
        ),
        Story(
            subject="Shared mailbox not showing in Outlook",
            description="I was given access to the team's shared mailbox but it doesn't show up in Outlook.",
            reply="It can take up to an hour to appear. I've checked and your access is there; please restart Outlook and it should show in the folder list.",
            resolution="Shared mailbox appeared after an Outlook restart.",
            article="outlook-mailbox-basics",
            handoff=(
                "Shared mailbox never appears in Outlook although permissions are correct.",
                "Checked permissions, restarted Outlook, created a new Outlook profile.",
                "Auto-mapping seems not to work for this mailbox.",
            ),
            fix="Auto-mapping was turned off when the mailbox was migrated. Re-applied the permission with auto-mapping; it now appears.",
        ),
    ],
    # ------------------------------------------------------------------ Tier 2
    "follow-up": [
        Story(
            subject="Same problem is back",
            description="The Wi-Fi problem you fixed last week is back. It drops every half hour again.",
            reply="Sorry it's back. I've read the earlier ticket; this time I'll look at the access points near your desk rather than your laptop.",
            resolution="Replaced a faulty access point near the customer's desk; no drops since.",
            article="connect-to-office-wifi",
            note="Earlier fix was a driver update. Access point AP-2F-07 logs show radio resets every ~30 min.",
        ),
        Story(
            subject="Follow-up: printer still jamming",
            description="The printer on our floor still jams even after the engineer's visit. It's {printer}.",
            reply="Thanks for letting us know. I've booked the engineer to come back and asked them to replace the rollers this time.",
            resolution="Rollers replaced on {printer}; tested 200 pages without a jam.",
            article="fix-printer-problems",
        ),
    ],
    "network": [
        Story(
            subject="VPN keeps disconnecting",
            description="The VPN disconnects every 10 minutes when I work from {site}. I have to keep reconnecting.",
            reply="I'm looking into it. Could you run the VPN diagnostics (right-click the VPN icon, then Diagnostics) and send me the file?",
            resolution="Home router was dropping the connection; changed the VPN to the TCP profile and it's stable now.",
            article="tier2-vpn-connection-troubleshooting",
            question="Could you send the diagnostics file, and tell me which internet provider you use at home?",
            answer="Attached the file. It's the fibre broadband from the local provider.",
            handoff=(
                "VPN drops every 10 minutes for several users at one site.",
                "Checked client logs, switched profiles, tested on wired and Wi-Fi.",
                "Drops match the firewall's session timeout, not the clients.",
            ),
            fix="The firewall's idle timeout had been lowered in last week's change. Set it back; tunnels are stable.",
        ),
        Story(
            subject="Internet very slow in {site}",
            description="Everything is really slow in {site} since this morning, even opening web pages takes ages.",
            reply="Thanks, I can see high traffic on that network. I'm checking what is using it.",
            resolution="A backup job was running in working hours; moved it to the night.",
            note="Uplink saturated by the file-server backup that was rescheduled by mistake.",
        ),
        Story(
            subject="Can't connect to office Wi-Fi",
            description="My {device} won't connect to the office Wi-Fi. It says 'can't connect to this network'.",
            reply="Your Wi-Fi certificate had expired. I've renewed it; please restart the laptop while you're on a cable or the guest Wi-Fi.",
            resolution="Renewed the device's Wi-Fi certificate.",
            article="connect-to-office-wifi",
        ),
    ],
    "backend-server": [
        Story(
            subject="File server very slow",
            description="Opening anything on the {share} drive takes a minute or more today. The whole team has the same.",
            reply="Thanks, we can see it too. The file server is very busy; I'm finding out why.",
            resolution="A stuck antivirus scan was locking files on the file server. Restarted the scan service; speed is back to normal.",
            handoff=(
                "File server slow for everyone, CPU at 100%.",
                "Restarted the antivirus scan, checked disk health, moved the backup window.",
                "Still slow; storage latency is very high on the SAN volume.",
            ),
            fix="A failing disk in the SAN was slowing the whole volume. Swapped it under warranty; latency is normal.",
        ),
        Story(
            subject="Timesheet system error",
            description="The timesheet system shows 'Error 500' when I try to submit. It's the last day of the month!",
            reply="Sorry about the timing. I've restarted the timesheet service; please try again now.",
            resolution="The app pool had crashed; restarted it and added a health check.",
            handoff=(
                "Timesheet app crashes again a few hours after each restart.",
                "Restarted the service twice, checked disk space and the event log.",
                "Memory grows until the app pool recycles; started after Tuesday's release.",
            ),
            fix="Found a memory leak in Tuesday's release of the timesheet app; rolled it back and reported it to the developers.",
        ),
    ],
    "hardware-fault": [
        Story(
            subject="Laptop won't turn on",
            description="My {device} won't turn on at all this morning. The charging light comes on but nothing else.",
            reply="Let's try a hard reset first: unplug the charger, hold the power button for 30 seconds, then plug in and try again. If nothing happens, I'll book a swap.",
            resolution="Mainboard fault; swapped the laptop and restored the customer's files from OneDrive.",
            article="tier2-laptop-disk-failure",
            question="Could you try the hard reset and tell me if any lights or sounds come on?",
            answer="Tried it. The keyboard lights flash once and then nothing.",
        ),
        Story(
            subject="Laptop clicking and very slow",
            description="My laptop has started making a clicking noise and it's extremely slow.",
            reply="That sounds like the disk is failing. Please save anything important to OneDrive now; I'll bring you a replacement this afternoon.",
            resolution="Replaced the failing disk, re-imaged the laptop, files restored from OneDrive.",
            article="tier2-laptop-disk-failure",
        ),
        Story(
            subject="Printer {printer} shows error",
            description="{printer} shows 'error 49' and won't print anything.",
            reply="I've turned the printer off and on from here and cleared the queue. Could you check if it prints now?",
            resolution="Corrupt print job cleared; printer firmware updated.",
            article="fix-printer-problems",
        ),
    ],
    "billing-refunds": [
        Story(
            subject="Charged twice for a licence",
            description="Our invoice shows the {app} licence twice for this month. Can we get one refunded?",
            reply="You're right, it was added twice when your licence was renewed. I've asked our supplier to credit one.",
            resolution="Supplier issued a credit note for the duplicate {app} licence.",
            question="Can you send me the invoice number so I can pass it to the supplier?",
            answer="It's INV-2026-{n}. Thanks for sorting it.",
        ),
        Story(
            subject="Cancel unused licences",
            description="We have {n} licences for {app} we don't use any more. Can we cancel them and stop paying?",
            reply="I've checked usage and you're right. I'll reduce the count at the next renewal date and send you the new total.",
            resolution="Licence count reduced at renewal; new quote sent to the customer.",
        ),
    ],
    # ------------------------------------------------------------------ Tier 3
    "architecture": [
        Story(
            subject="Proposal: single sign-on for the booking system",
            description="Could the room booking system use our normal work login instead of its own passwords? People keep forgetting them.",
            reply="Good idea. The booking system supports SAML sign-on, so this is doable. I'll write up the change and book it with the change board.",
            resolution="SSO enabled for the booking system after testing with a pilot group.",
        ),
        Story(
            subject="Move the team's Access database somewhere safer",
            description="Our team keeps a big Access database on the {share} drive. It gets corrupted when two people use it. Is there a better option?",
            reply="Thanks for raising it. The data fits well in a SharePoint list or a small SQL database. I'll look at what the database does and suggest a plan.",
            resolution="Migrated the database to SQL with an Access front end; no more corruption.",
        ),
    ],
    "server-maintenance": [
        Story(
            subject="Planned patching of the file servers",
            description="Reminder ticket for this month's patching of the file servers. Please confirm the window with the business.",
            reply="Window agreed for Saturday 07:00-09:00. The announcement has gone out.",
            resolution="File servers patched and restarted in the window; checks passed.",
        ),
        Story(
            subject="Disk space warning on the reporting server",
            description="Monitoring says the reporting server's data disk is 90% full.",
            reply="Looking at it now. Old report exports seem to be the bulk of it.",
            resolution="Archived two years of old exports and added a clean-up job.",
        ),
    ],
    "support-documentation": [
        Story(
            subject="Write a script for MFA re-registration",
            description="Tier 1 keeps escalating MFA problems after the new enforcement. We need a call script for re-registering a phone.",
            reply="Agreed. I'll write a step-by-step script with screenshots and run it past two Tier 1 agents.",
            resolution="Published the MFA re-registration script in the knowledge base.",
            article="set-up-multi-factor-authentication",
        ),
        Story(
            subject="Update the VPN troubleshooting runbook",
            description="The VPN runbook still refers to the old client. Please bring it up to date.",
            reply="On it. I'll update the screenshots and the steps for the new client.",
            resolution="Runbook updated for the new VPN client.",
            article="tier2-vpn-connection-troubleshooting",
        ),
    ],
    "software-bug": [
        Story(
            subject="Expenses app rounds amounts wrongly",
            description="The expenses app rounds 10.005 to 10.00 instead of 10.01, so claims don't match receipts.",
            reply="Thanks for the clear example. I can reproduce it; it's a rounding bug in the app. I'm working on a fix.",
            resolution="Fixed the rounding in the expenses app (release 4.2.1).",
            note="Root cause: banker's rounding used for currency. Switched to half-up and added tests.",
        ),
        Story(
            subject="Intranet search returns nothing",
            description="Searching the intranet returns no results for anything since this morning.",
            reply="Confirmed, the search index is empty after last night's rebuild. I'm rebuilding it now; it takes about an hour.",
            resolution="Search index rebuilt; the nightly job now checks the index before swapping it in.",
        ),
    ],
    "downtime": [
        Story(
            subject="Email down for the whole office",
            description="Nobody in {site} can send or receive email. Outlook says disconnected.",
            reply="We're on it. It looks like a network problem between {site} and the mail service, not the mail service itself.",
            resolution="A failed firewall update blocked mail traffic; rolled it back. Mail flowed again within minutes.",
        ),
        Story(
            subject="Intranet is down",
            description="The intranet shows a 503 error for everyone.",
            reply="Confirmed. The web server ran out of disk space. Clearing it now.",
            resolution="Log rotation had stopped; cleared old logs, fixed rotation, intranet back.",
        ),
    ],
    "security": [
        Story(
            subject="Suspicious email asking for my password",
            description="I got an email that looks like it's from IT asking me to 'verify my mailbox' with my password. I didn't click it but wanted to let you know.",
            reply="Thank you for reporting it, that's exactly right. It's a phishing email. I've removed it from everyone's mailbox and blocked the sender.",
            resolution="Phishing campaign purged from all mailboxes; sender domain blocked.",
            article="tier3-runbook-compromised-account",
        ),
        Story(
            subject="I clicked a link in a strange email",
            description="I clicked a link in an email about a parcel delivery and typed my password before I realised. Sorry!",
            reply="Thank you for telling us so quickly, you did the right thing. I've reset your password and signed you out everywhere. Please set up MFA again when asked.",
            resolution="Password reset, sessions revoked, no unusual sign-ins found. Customer re-registered MFA.",
            article="tier3-runbook-compromised-account",
            note="Checked sign-in logs: one attempt from abroad 20 minutes later, blocked by MFA.",
        ),
    ],
    "vendor-hardware": [
        Story(
            subject="Docking station keeps disconnecting",
            description="My docking station disconnects my screens several times a day. Colleagues with the same dock have it too.",
            reply="We've seen this on several docks of the same model. I'm collecting details for the supplier.",
            resolution="Supplier replaced the batch of faulty docks under warranty.",
            note="Affects the WD-19 docks from the March delivery.",
        ),
        Story(
            subject="Screen flickering on new monitors",
            description="The new monitors we got last month flicker every few minutes.",
            reply="Thanks, I'm checking whether it's the cable, the laptop or the monitors themselves.",
            resolution="Firmware update from the monitor maker fixed the flicker.",
        ),
    ],
    "equipment-maintenance": [
        Story(
            subject="Annual service for the large-format printer",
            description="The A3 plotter in the studio is due its annual service.",
            reply="I've contacted the supplier to book the service visit.",
            resolution="Service visit done; next one booked for next year.",
        ),
    ],
    "firmware-security-updates": [
        Story(
            subject="Security advisory for our Wi-Fi access points",
            description="The access point maker published a security advisory this week. Do we need to update?",
            reply="Yes, our model is affected. I'm testing the new firmware on two access points first.",
            resolution="New firmware rolled out to all access points overnight.",
        ),
        Story(
            subject="Firmware update for the storage array",
            description="The storage supplier says there's a critical firmware update for our array.",
            reply="I'll plan the update with the supplier for the next maintenance window.",
            resolution="Storage firmware updated by the supplier in the maintenance window.",
        ),
    ],
    "vendor-code-fix": [
        Story(
            subject="Booking system crashes when exporting",
            description="The room booking system crashes when we export the month view to PDF.",
            reply="I can reproduce it; it's a bug in the booking software itself. I'm collecting logs for the supplier.",
            resolution="Supplier's patch 7.3.2 fixes the export crash; installed and tested.",
        ),
    ],
}

#: The week Tier 1 struggled: MFA enforcement went live and no Tier 1 script covered
#: phones that had to be registered again (the dashboard's dip, and a KB gap in the
#: coaching report).
DIP_STORIES: dict[str, list[Story]] = {
    "account-unlock": [
        Story(
            subject="Can't sign in since MFA change",
            description="Since the new sign-in rules this week, my phone doesn't get the approval request any more and I'm locked out.",
            reply="Sorry about this, a lot of people are affected by the change this week. Let me look at your account.",
            resolution="Re-registered the customer's phone for MFA; sign-in works.",
            article=None,
            note="MFA enforcement went live on Monday. We have no Tier 1 script for re-registering a phone yet.",
            handoff=(
                "No MFA prompt arrives on the phone since the enforcement.",
                "Unlocked the account, asked the customer to restart the phone and reinstall the app.",
                "The phone is registered under the old method; Tier 1 cannot reset MFA methods.",
            ),
            fix="Reset the customer's MFA methods and walked them through registering the phone again.",
        ),
        Story(
            subject="Locked out - authenticator app on old phone",
            description="I got a new phone last month and now the sign-in asks me to approve on my old phone, which I've handed in.",
            reply="Thanks, I understand. I'm checking what we can do for the old phone registration.",
            resolution="Removed the old phone and registered the new one.",
            article=None,
            handoff=(
                "MFA prompts go to a phone the customer no longer has.",
                "Verified identity, unlocked the account, tried the 'can't use the app' option with the customer.",
                "Old device still registered; Tier 1 has no permission to remove it.",
            ),
            fix="Removed the old authenticator registration; the customer registered the new phone.",
        ),
    ],
}

#: Named demo customers (first, last, company domain); the ``customer`` user joins them.
CUSTOMERS = [
    ("Maya", "Lindqvist", "harborfinch.example"),
    ("Daniel", "Okoro", "harborfinch.example"),
    ("Sofia", "Romano", "harborfinch.example"),
    ("Hiro", "Tanaka", "harborfinch.example"),
    ("Priya", "Nair", "harborfinch.example"),
    ("Grace", "Mbeki", "bluebelldental.example"),
    ("Liam", "O'Connor", "bluebelldental.example"),
    ("Ana", "Costa", "bluebelldental.example"),
    ("Jonas", "Weber", "bluebelldental.example"),
]
#: Their colleagues, who write in less often.
COLLEAGUE_FIRST = [
    "Ellie",
    "Marcus",
    "Fatima",
    "Oliver",
    "Chloe",
    "Kwame",
    "Isla",
    "Mateo",
    "Zara",
    "Noah",
    "Amelia",
    "Ravi",
    "Ingrid",
    "Leo",
    "Hannah",
    "Tomasz",
]
COLLEAGUE_LAST = [
    "Hughes",
    "Patel",
    "Nowak",
    "Fischer",
    "Murphy",
    "Santos",
    "Clarke",
    "Yilmaz",
    "Berg",
    "Dubois",
    "Kim",
    "Walsh",
]

#: Extra agents that make the history look staffed (username, first, last, tier).
EXTRA_AGENTS = [
    ("sam.rivera", "Sam", "Rivera", 1),
    ("jess.taylor", "Jess", "Taylor", 1),
    ("omar.haddad", "Omar", "Haddad", 1),
    ("nina.kowalski", "Nina", "Kowalski", 2),
    ("raj.mehta", "Raj", "Mehta", 2),
    ("elena.petrova", "Elena", "Petrova", 3),
]

#: What the vendor says on the hand-off it answered.
VENDOR_UPDATE = "Thanks for the details and logs. This is a known fault in the WD-19 batch from March. We are sending {n} replacement docks by courier; they should arrive within two working days."
VENDOR_DONE = "Replacement docks delivered and the faulty ones collected. Our case NW-{n} is closed on our side."
VENDOR_SUMMARY = "Several WD-19 docks from the March delivery drop both screens a few times a day. Firmware is current, cables swapped, happens on different laptops. Logs and serial numbers attached below. Please advise or replace."
OVERDUE_SUMMARY = "The storage array reports a controller fault after the last firmware update (event code 0x5F2). Redundancy is holding but we need your engineer to look at it. Serial and logs below."
OVERDUE_NOTE = "Rang Northwind's support line about the storage controller, left a message with the duty engineer. Chasing again this afternoon."
